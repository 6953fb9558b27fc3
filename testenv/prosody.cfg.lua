-- Throwaway Prosody 0.12 for SparkWeb's tests and local development.
-- Everything lives under $PROSODY_RUN_DIR and listens on loopback only; prosody.sh fills in the
-- environment. ENV_<NAME> is Prosody's config syntax for os.getenv("<NAME>").
local run    = assert(ENV_PROSODY_RUN_DIR, "set PROSODY_RUN_DIR")
local domain = ENV_PROSODY_DOMAIN or "localhost"

run_as_root = true -- CI and dev containers run as root; otherwise Prosody setuid()s to 'prosody'
pidfile   = run .. "/prosody.pid"
data_path = run .. "/data"
certificates = run .. "/certs"
log = {
  { levels = { min = ENV_PROSODY_LOG_LEVEL or "info" }, to = "file", filename = run .. "/prosody.log" };
  { levels = { min = "error" }, to = "console" };
}
admins = { "admin@" .. domain }

interfaces           = { "127.0.0.1" }
c2s_ports            = { tonumber(ENV_PROSODY_C2S_PORT) }
c2s_direct_tls_ports = {}
s2s_ports            = {}
component_ports      = { tonumber(ENV_PROSODY_COMPONENT_PORT) }
component_interfaces = { "127.0.0.1" }
http_ports           = { tonumber(ENV_PROSODY_HTTP_PORT) }
http_interfaces      = { "127.0.0.1" }
https_ports          = {}
http_default_host    = domain

-- Plain ws:// and TCP on loopback: the relay is the only client and the link never leaves the host.
c2s_require_encryption       = false
allow_unencrypted_plain_auth = true
consider_websocket_secure    = true
-- "SHA-256" makes internal_hashed store and offer SCRAM-SHA-256 instead of SCRAM-SHA-1.
password_hash  = ENV_PROSODY_PASSWORD_HASH or "SHA-1"
authentication = "internal_hashed"
storage = "internal"

modules_enabled = {
  "roster"; "saslauth"; "disco"; "posix";
  "carbons"; "pep"; "private"; "blocklist"; "vcard4"; "vcard_legacy"; "bookmarks";
  "version"; "uptime"; "time"; "ping";
  "mam"; "smacks"; "csi_simple"; "cloud_notify";
  "admin_adhoc"; "admin_shell";
  "register"; -- password change and account removal in band (XEP-0077); sign-up only if allowed below
  "bosh"; "websocket"; "offline";
}
modules_disabled = { "s2s"; "dialback"; "tls" }

-- In-band registration of new accounts (XEP-0077) only with PROSODY_ALLOW_REGISTRATION=1.
allow_registration = ENV_PROSODY_ALLOW_REGISTRATION == "1"
default_archive_policy  = true
archive_expires_after   = "1d"
smacks_hibernation_time = 60
-- XEP-0357 summaries carry only placeholders unless these are on (PROSODY_PUSH_BODY=1).
push_notification_with_body   = ENV_PROSODY_PUSH_BODY == "1"
push_notification_with_sender = ENV_PROSODY_PUSH_BODY == "1"

VirtualHost (domain)
  -- Host modules add to the global ones.
  local host_modules = {}
  -- PROSODY_OAUTH_URL switches to prosody-modules' mod_auth_oauthbearer: no passwords at all,
  -- SASL OAUTHBEARER tokens checked by GETting that URL (the SparkWeb relay's internal endpoint).
  if ENV_PROSODY_OAUTH_URL then
    authentication      = "oauthbearer"
    oauth_url           = ENV_PROSODY_OAUTH_URL
    oauth_client_id     = ENV_PROSODY_OAUTH_CLIENT_ID or "sparkweb"
    oauth_client_secret = assert(ENV_PROSODY_OAUTH_CLIENT_SECRET, "set PROSODY_OAUTH_CLIENT_SECRET")
    host_modules[#host_modules + 1] = "sasl_oauthbearer"
  end
  -- PROSODY_TLS_CERT and PROSODY_TLS_KEY (PEM files) make c2s offer STARTTLS.
  if ENV_PROSODY_TLS_CERT then
    ssl = { certificate = ENV_PROSODY_TLS_CERT; key = assert(ENV_PROSODY_TLS_KEY, "set PROSODY_TLS_KEY") }
    host_modules[#host_modules + 1] = "tls"
  end
  modules_enabled = host_modules

Component ("conference." .. domain) "muc"
  -- muc_moderation (prosody-modules): moderators retract occupants' messages (XEP-0425 0.2).
  modules_enabled = { "muc_mam"; "muc_moderation" }

Component ("push." .. domain)
  component_secret = ENV_PROSODY_COMPONENT_SECRET or "push-secret"

-- HTTP file upload (XEP-0363) on the loopback HTTP port. Its routes live on the main host (a
-- request for 127.0.0.1 falls back to http_default_host) and its slot URLs name 127.0.0.1, so
-- they work whatever the XMPP domain. mod_http_file_share answers CORS preflights itself,
-- echoing the page's origin, so a page served by the relay can PUT to it.
-- PROSODY_UPLOAD=0 leaves it out, for a server without upload.
if ENV_PROSODY_UPLOAD ~= "0" then
Component ("upload." .. domain) "http_file_share"
  http_host = domain
  http_external_url = "http://127.0.0.1:" .. ENV_PROSODY_HTTP_PORT .. "/"
  http_file_share_size_limit = tonumber(ENV_PROSODY_UPLOAD_LIMIT) or 10 * 1024 * 1024
end
