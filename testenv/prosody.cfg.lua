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
  "bosh"; "websocket"; "offline";
}
modules_disabled = { "s2s"; "dialback"; "tls" }

default_archive_policy  = true
archive_expires_after   = "1d"
smacks_hibernation_time = 60

VirtualHost (domain)

Component ("conference." .. domain) "muc"
  modules_enabled = { "muc_mam" }

Component ("push." .. domain)
  component_secret = ENV_PROSODY_COMPONENT_SECRET or "push-secret"
