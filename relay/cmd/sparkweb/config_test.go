package main

import (
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	required := []string{"--upstream", "ws://127.0.0.1:5280/xmpp-websocket", "--domain", "example.org"}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c config)
		wantErr []string // substrings that must all appear
	}{
		{
			name: "defaults",
			args: required,
			check: func(t *testing.T, c config) {
				if c.listen != "127.0.0.1:8080" || c.server.TokenTTL != 15*time.Minute || c.server.ForwardedProtoHTTPS || c.server.AllowedOrigins != nil {
					t.Errorf("defaults: %+v", c)
				}
			},
		},
		{
			name: "all flags",
			args: append([]string{"--listen", ":9000", "--allowed-origins", "https://a.example, http://localhost:3000,",
				"--forwarded-proto-https", "--token-ttl", "5m"}, required...),
			check: func(t *testing.T, c config) {
				want := []string{"https://a.example", "http://localhost:3000"}
				if c.listen != ":9000" || !reflect.DeepEqual(c.server.AllowedOrigins, want) ||
					!c.server.ForwardedProtoHTTPS || c.server.TokenTTL != 5*time.Minute {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "environment",
			env: map[string]string{"SPARKWEB_UPSTREAM": "wss://xmpp.example.org/ws", "SPARKWEB_DOMAIN": "example.org",
				"SPARKWEB_FORWARDED_PROTO_HTTPS": "true", "SPARKWEB_TOKEN_TTL": "1h", "SPARKWEB_LISTEN": "0.0.0.0:80"},
			check: func(t *testing.T, c config) {
				if c.server.Upstream != "wss://xmpp.example.org/ws" || c.server.Domain != "example.org" ||
					!c.server.ForwardedProtoHTTPS || c.server.TokenTTL != time.Hour || c.listen != "0.0.0.0:80" {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "flag wins over environment",
			args: append([]string{"--token-ttl", "2m"}, required...),
			env:  map[string]string{"SPARKWEB_TOKEN_TTL": "1h", "SPARKWEB_DOMAIN": "other.example"},
			check: func(t *testing.T, c config) {
				if c.server.TokenTTL != 2*time.Minute || c.server.Domain != "example.org" {
					t.Errorf("got %+v", c)
				}
			},
		},
		{name: "nothing given", wantErr: []string{"upstream: required", "domain: required"}},
		{name: "http upstream", args: []string{"--upstream", "http://x/ws", "--domain", "example.org"}, wantErr: []string{"ws://, wss://, xmpp:// or xmpps://"}},
		{name: "bad domain", args: []string{"--upstream", "ws://x/ws", "--domain", "a@b"}, wantErr: []string{"not a valid XMPP domain"}},
		{name: "bad listen", args: append([]string{"--listen", "8080"}, required...), wantErr: []string{"listen \"8080\""}},
		{name: "bad port", args: append([]string{"--listen", ":99999"}, required...), wantErr: []string{"bad port"}},
		{name: "bad origin", args: append([]string{"--allowed-origins", "a.example"}, required...), wantErr: []string{"allowed origins"}},
		{
			name: "upload origins",
			args: append([]string{"--upload-origins", "https://upload.example.org, http://127.0.0.1:5280,"}, required...),
			check: func(t *testing.T, c config) {
				if want := []string{"https://upload.example.org", "http://127.0.0.1:5280"}; !reflect.DeepEqual(c.server.UploadOrigins, want) {
					t.Errorf("upload origins %q, want %q", c.server.UploadOrigins, want)
				}
			},
		},
		{
			name: "upload origins from the environment",
			args: required,
			env:  map[string]string{"SPARKWEB_UPLOAD_ORIGINS": "https://upload.example.org"},
			check: func(t *testing.T, c config) {
				if want := []string{"https://upload.example.org"}; !reflect.DeepEqual(c.server.UploadOrigins, want) {
					t.Errorf("upload origins %q, want %q", c.server.UploadOrigins, want)
				}
			},
		},
		{name: "bad upload origin", args: append([]string{"--upload-origins", "https://upload.example.org/share"}, required...), wantErr: []string{"upload origins", "/share"}},
		{name: "upload origin injecting CSP", env: map[string]string{"SPARKWEB_UPLOAD_ORIGINS": "https://a.example; script-src *"}, args: required, wantErr: []string{"upload origins"}},
		{name: "zero TTL", args: append([]string{"--token-ttl", "0s"}, required...), wantErr: []string{"must be positive"}},
		{name: "TTL too long", args: append([]string{"--token-ttl", "72h"}, required...), wantErr: []string{"token TTL"}},
		{name: "unparsable TTL flag", args: append([]string{"--token-ttl", "soon"}, required...), wantErr: []string{"invalid value"}},
		{name: "unparsable env", args: required, env: map[string]string{"SPARKWEB_FORWARDED_PROTO_HTTPS": "maybe"}, wantErr: []string{"SPARKWEB_FORWARDED_PROTO_HTTPS"}},
		{name: "stray argument", args: append(required, "serve"), wantErr: []string{"unexpected argument"}},
		{name: "unknown flag", args: []string{"--upstreams", "x"}, wantErr: []string{"not defined"}},
		{name: "TLS cert without key", args: append([]string{"--tls-cert", "c.pem"}, required...), wantErr: []string{"tls-cert and tls-key"}},
		{name: "jwt keys without issuer", args: append([]string{"--jwt-jwks", "k.json"}, required...), wantErr: []string{"jwt-issuer: required"}},
		{name: "jwt issuer without keys", args: append([]string{"--jwt-issuer", "https://site"}, required...), wantErr: []string{"needs a key"}},
		{name: "bad client IP header", args: append([]string{"--client-ip-header", "Forwarded"}, required...), wantErr: []string{"client IP header"}},
		{name: "bad public URL", args: append([]string{"--public-url", "chat.example.org"}, required...), wantErr: []string{"public URL"}},
		{
			name: "jwt upstream auth, secret from the environment, TCP upstream",
			args: []string{"--upstream", "xmpps://xmpp.example.org", "--domain", "example.org", "--upstream-auth", "jwt"},
			env:  map[string]string{"SPARKWEB_UPSTREAM_JWT_SECRET": "0123456789abcdef0123456789abcdef"},
			check: func(t *testing.T, c config) {
				if c.server.UpstreamAuth != "jwt" || string(c.server.UpstreamJWTSecret) != "0123456789abcdef0123456789abcdef" {
					t.Errorf("got %+v", c.server)
				}
			},
		},
		{
			name: "oauthbearer upstream auth",
			args: append([]string{"--upstream-auth", "oauthbearer", "--internal-listen", "127.0.0.1:8081",
				"--upstream-oauth-client-secret", "prosody-client-secret"}, required...),
			check: func(t *testing.T, c config) {
				if c.internalListen != "127.0.0.1:8081" || c.server.OAuthClientID != "sparkweb" || c.server.OAuthClientSecret != "prosody-client-secret" {
					t.Errorf("got %+v", c)
				}
			},
		},
		{name: "jwt mode without secret", args: append([]string{"--upstream-auth", "jwt"}, required...), wantErr: []string{"upstream JWT secret: 0 bytes"}},
		{name: "jwt secret inline and file", args: append([]string{"--upstream-auth", "jwt", "--upstream-jwt-secret", "x", "--upstream-jwt-secret-file", "f"}, required...), wantErr: []string{"give one, not both"}},
		{name: "unknown upstream auth", args: append([]string{"--upstream-auth", "proxy"}, required...), wantErr: []string{`upstream auth "proxy"`}},
		{name: "oauthbearer without internal listener", args: append([]string{"--upstream-auth", "oauthbearer", "--upstream-oauth-client-secret", "prosody-client-secret"}, required...), wantErr: []string{"internal-listen"}},
		{name: "oauthbearer internal listener not loopback", args: append([]string{"--upstream-auth", "oauthbearer", "--internal-listen", "0.0.0.0:8081", "--upstream-oauth-client-secret", "prosody-client-secret"}, required...), wantErr: []string{"must be a loopback address"}},
		{name: "TCP upstream with a path", args: []string{"--upstream", "xmpp://x/ws", "--domain", "example.org"}, wantErr: []string{"xmpp(s)://host[:port] and nothing else"}},
		{
			name: "limits and store",
			args: append([]string{"--max-conns-per-jid", "3", "--max-conns-per-ip", "-1", "--token-backoff", "2s", "--store", "/tmp/x.db",
				"--drain-timeout", "30s", "--client-ip-header", "x-forwarded-for"}, required...),
			env: map[string]string{"SPARKWEB_MAX_STANZA_SIZE": "65536"},
			check: func(t *testing.T, c config) {
				l := c.server.Limits
				if l.MaxConnsPerJID != 3 || l.MaxConnsPerIP != -1 || l.TokenBackoff != 2*time.Second || l.MaxStanzaSize != 65536 ||
					l.DrainTimeout != 30*time.Second || c.server.StorePath != "/tmp/x.db" || c.server.ClientIPHeader != "x-forwarded-for" {
					t.Errorf("got %+v", c.server)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			c, err := parseConfig(tc.args, getenv, io.Discard)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error; config %+v", c)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "SPARKWEB_") || !strings.Contains(out.String(), "--upstream") && !strings.Contains(out.String(), "-upstream") {
		t.Errorf("err %v, usage %q", err, out.String())
	}
}
