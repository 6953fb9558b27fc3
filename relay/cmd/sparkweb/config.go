package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/relay/server"
)

// envPrefix namespaces the environment variables: --token-ttl is SPARKWEB_TOKEN_TTL.
const envPrefix = "SPARKWEB_"

// config is everything the command line and environment decide.
type config struct {
	listen          string
	internalListen  string
	tlsCert, tlsKey string
	server          server.Config
}

// parseConfig reads flags from args and, for flags not given, SPARKWEB_* variables from getenv
// (flags win). It validates everything and reports all problems at once.
func parseConfig(args []string, getenv func(string) string, usage io.Writer) (config, error) {
	var (
		c       config
		origins string
		uploads string
		as      assertionFlags
		pf      pushFlags
		ua      upstreamAuthFlags
	)
	fs := flag.NewFlagSet("sparkweb", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "`address` to serve HTTP on")
	fs.StringVar(&c.server.Upstream, "upstream", "", "XMPP server's WebSocket `URL` (ws:// or wss://) or client port (xmpp://host:5222 with STARTTLS, xmpps://host:5223), required")
	fs.StringVar(&c.server.UpstreamAuth, "upstream-auth", server.UpstreamAuthPassword, "who authenticates the XMPP stream: password (the browser, by SCRAM), jwt or oauthbearer (the relay)")
	fs.StringVar(&ua.jwtSecret, "upstream-jwt-secret", "", "jwt mode: HS256 `secret` the XMPP server verifies relay-minted JWTs with (prefer the file or the environment)")
	fs.StringVar(&ua.jwtSecretFile, "upstream-jwt-secret-file", "", "jwt mode: `file` holding the HS256 secret")
	fs.StringVar(&c.server.OAuthClientID, "upstream-oauth-client-id", "sparkweb", "oauthbearer mode: client `id` the XMPP server presents when it checks a token (Prosody oauth_client_id)")
	fs.StringVar(&ua.oauthSecret, "upstream-oauth-client-secret", "", "oauthbearer mode: client `secret` (Prosody oauth_client_secret; prefer the file or the environment)")
	fs.StringVar(&ua.oauthSecretFile, "upstream-oauth-client-secret-file", "", "oauthbearer mode: `file` holding the client secret")
	fs.StringVar(&c.internalListen, "internal-listen", "", "oauthbearer mode: loopback `address` (e.g. 127.0.0.1:8081) serving the token check to the XMPP server over HTTPS")
	fs.StringVar(&c.server.Domain, "domain", "", "XMPP `domain` users log in to, required")
	fs.StringVar(&origins, "allowed-origins", "", "comma-separated page `origins` besides the relay's own that may use the bridge")
	fs.StringVar(&uploads, "upload-origins", "", "comma-separated `origins` (scheme://host[:port]) of the XMPP server's HTTP upload service, which pages may PUT files to and show images and media from")
	fs.BoolVar(&c.server.ForwardedProtoHTTPS, "forwarded-proto-https", false, "tell the XMPP server the client link is HTTPS (relay behind a TLS proxy)")
	fs.DurationVar(&c.server.TokenTTL, "token-ttl", 15*time.Minute, "lifetime of relay access tokens")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate `file` (chain) to serve HTTPS; needs --tls-key")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key `file` for --tls-cert")
	fs.StringVar(&c.server.UpstreamCAFile, "upstream-ca", "", "PEM `file` of CA certificates verifying a wss:// upstream instead of the system roots")
	fs.StringVar(&c.server.ClientIPHeader, "client-ip-header", "", "`header` a trusted reverse proxy sets with the client address (X-Forwarded-For or X-Real-IP)")
	fs.StringVar(&c.server.StorePath, "store", "", "bbolt `file` for signing keys and refresh tokens (empty: in memory, no refresh tokens)")
	fs.DurationVar(&c.server.RefreshTTL, "refresh-ttl", 30*24*time.Hour, "lifetime of refresh tokens (with --store)")
	fs.StringVar(&c.server.PublicURL, "public-url", "", "relay's external `URL` for XEP-0156 discovery (default: from each request)")
	fs.BoolVar(&c.server.AllowRegister, "allow-register", false, "serve POST /api/register: create accounts on the XMPP server by in-band registration (XEP-0077), if the server allows it")
	pf.register(fs)
	fs.StringVar(&as.issuer, "jwt-issuer", "", "jwt-bearer grant: required \"iss\" of site JWTs (enables the grant)")
	fs.StringVar(&as.audience, "jwt-audience", "sparkweb", "jwt-bearer grant: required \"aud\"")
	fs.StringVar(&as.secretFile, "jwt-hmac-secret-file", "", "jwt-bearer grant: `file` holding the HS256/384/512 secret (>= 32 bytes)")
	fs.StringVar(&as.keyFiles, "jwt-public-keys", "", "jwt-bearer grant: comma-separated PEM public key/certificate `files` (RSA, ECDSA, Ed25519); kid = file name without .pem")
	fs.StringVar(&as.jwks, "jwt-jwks", "", "jwt-bearer grant: JWKS `file`")
	fs.StringVar(&as.algs, "jwt-algorithms", "", "jwt-bearer grant: comma-separated allowed algorithms (default: all the keys support)")
	fs.DurationVar(&as.leeway, "jwt-leeway", 30*time.Second, "jwt-bearer grant: allowed clock skew")
	fs.StringVar(&as.claim, "jwt-user-claim", "sub", "jwt-bearer grant: `claim` naming the user (localpart or bare JID)")
	l, d := &c.server.Limits, server.DefaultLimits()
	fs.IntVar(&l.MaxConnsPerJID, "max-conns-per-jid", d.MaxConnsPerJID, "concurrent bridges per account (-1: no limit)")
	fs.IntVar(&l.MaxConnsPerIP, "max-conns-per-ip", d.MaxConnsPerIP, "concurrent bridges per client address (-1: no limit)")
	fs.Int64Var(&l.MaxStanzaSize, "max-stanza-size", d.MaxStanzaSize, "largest WebSocket message accepted from a client, in `bytes`")
	fs.DurationVar(&l.PingInterval, "ping-interval", d.PingInterval, "WebSocket ping interval towards browsers; an unanswered ping ends the bridge (-1s: none)")
	fs.DurationVar(&l.IdleTimeout, "idle-timeout", d.IdleTimeout, "close bridges silent both ways this long (-1s: never)")
	fs.DurationVar(&l.TokenIPEvery, "token-ip-every", d.TokenIPEvery, "per-address token requests: one earned back every `interval` (-1s: no limit)")
	fs.IntVar(&l.TokenIPBurst, "token-ip-burst", d.TokenIPBurst, "per-address token requests allowed at once")
	fs.DurationVar(&l.TokenAccountEvery, "token-account-every", d.TokenAccountEvery, "per-account grants: one earned back every `interval` (-1s: no limit)")
	fs.IntVar(&l.TokenAccountBurst, "token-account-burst", d.TokenAccountBurst, "per-account grants allowed at once")
	fs.DurationVar(&l.TokenBackoff, "token-backoff", d.TokenBackoff, "wait after a wrong password past --token-free-failures, doubling per further failure up to 15m (-1s: none)")
	fs.IntVar(&l.TokenFreeFailures, "token-free-failures", d.TokenFreeFailures, "consecutive wrong passwords per account that cost no wait (-1: none)")
	fs.DurationVar(&l.ReadHeaderTimeout, "read-header-timeout", d.ReadHeaderTimeout, "time allowed to send request headers (slow-client guard)")
	fs.DurationVar(&l.ReadTimeout, "read-timeout", d.ReadTimeout, "time allowed to send a whole request (WebSockets exempt)")
	fs.DurationVar(&l.WriteTimeout, "write-timeout", d.WriteTimeout, "time allowed to write a response (WebSockets exempt)")
	fs.DurationVar(&l.KeepAliveTimeout, "keepalive-timeout", d.KeepAliveTimeout, "close idle HTTP keep-alive connections after this long")
	fs.DurationVar(&l.DrainTimeout, "drain-timeout", d.DrainTimeout, "on SIGTERM, how long bridges get to close before being cut")
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: sparkweb [flags]\n       sparkweb version\n\nEvery flag can also be set as %s<NAME>, e.g. %sUPSTREAM; a flag wins.\n\n", envPrefix, envPrefix)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		env := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" {
			// Going through Set parses the value exactly as the flag would.
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	for _, o := range strings.Split(origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.server.AllowedOrigins = append(c.server.AllowedOrigins, o)
		}
	}
	c.server.UploadOrigins = splitList(uploads)
	if _, port, err := net.SplitHostPort(c.listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: want host:port, e.g. 127.0.0.1:8080 or :8080", c.listen))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		errs = append(errs, fmt.Errorf("listen %q: bad port", c.listen))
	}
	if a, err := as.config(); err != nil {
		errs = append(errs, err)
	} else {
		c.server.Assertion = a
	}
	if err := ua.apply(&c.server); err != nil {
		errs = append(errs, err)
	}
	if c.server.UpstreamAuth == server.UpstreamAuthOAuthBearer {
		if host, _, err := net.SplitHostPort(c.internalListen); err != nil {
			errs = append(errs, fmt.Errorf("internal-listen %q: oauthbearer mode needs a loopback host:port, e.g. 127.0.0.1:8081", c.internalListen))
		} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			errs = append(errs, fmt.Errorf("internal-listen %q: must be a loopback address: the token check is for the XMPP server on this machine only", c.internalListen))
		}
	} else if c.internalListen != "" {
		errs = append(errs, errors.New("internal-listen: only used with --upstream-auth oauthbearer"))
	}
	if err := pf.apply(&c.server); err != nil {
		errs = append(errs, err)
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		errs = append(errs, errors.New("tls-cert and tls-key: give both or neither"))
	}
	// Unlike server.Config, where zero means the default, a TTL given here must be positive.
	s := c.server
	if s.TokenTTL <= 0 {
		errs = append(errs, fmt.Errorf("token-ttl %v: must be positive", s.TokenTTL))
		s.TokenTTL = 0 // reported; keep Validate from saying it again
	}
	if err := s.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// assertionFlags are the jwt-bearer grant's flags.
type assertionFlags struct {
	issuer, audience, secretFile, keyFiles, jwks, algs, claim string
	leeway                                                    time.Duration
}

// config turns the flags into an auth.AssertionConfig; nil when the grant is off (no issuer).
func (a assertionFlags) config() (*auth.AssertionConfig, error) {
	if a.issuer == "" {
		if a.secretFile != "" || a.keyFiles != "" || a.jwks != "" {
			return nil, errors.New("jwt-issuer: required when jwt-bearer keys are given")
		}
		return nil, nil
	}
	c := &auth.AssertionConfig{Issuer: a.issuer, Audience: a.audience, JWKSFile: a.jwks, Leeway: a.leeway, UserClaim: a.claim,
		PublicKeyFiles: splitList(a.keyFiles), Algorithms: splitList(a.algs)}
	if a.secretFile != "" {
		b, err := os.ReadFile(a.secretFile)
		if err != nil {
			return nil, fmt.Errorf("jwt-hmac-secret-file: %w", err)
		}
		c.HMACSecret = bytes.TrimSpace(b)
	}
	// Load the keys now so that every problem is reported at start.
	if _, err := auth.NewAssertionVerifier(*c); err != nil {
		return nil, err
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// upstreamAuthFlags are the secrets of the relay-authenticated upstream modes, given inline
// or as files.
type upstreamAuthFlags struct {
	jwtSecret, jwtSecretFile, oauthSecret, oauthSecretFile string
}

// apply reads the secrets into c.
func (u upstreamAuthFlags) apply(c *server.Config) error {
	jwt, err := secret("upstream-jwt-secret", u.jwtSecret, u.jwtSecretFile)
	if err != nil {
		return err
	}
	oauth, err := secret("upstream-oauth-client-secret", u.oauthSecret, u.oauthSecretFile)
	if err != nil {
		return err
	}
	c.UpstreamJWTSecret, c.OAuthClientSecret = []byte(jwt), oauth
	return nil
}

// secret returns an inline value or a file's trimmed content; not both.
func secret(name, inline, file string) (string, error) {
	if inline != "" && file != "" {
		return "", fmt.Errorf("%s and %s-file: give one, not both", name, name)
	}
	if file == "" {
		return inline, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s-file: %w", name, err)
	}
	return string(bytes.TrimSpace(b)), nil
}
