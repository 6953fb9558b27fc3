package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/coder/websocket"
	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startRelay runs the relay exactly as the engine tests do.
func startRelay(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	srv, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}

type tokenResult struct {
	status      int
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func postToken(t *testing.T, base, user, password string) tokenResult {
	t.Helper()
	resp, err := http.PostForm(base+"/api/token", url.Values{
		"grant_type": {"password"}, "username": {user}, "password": {password},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := tokenResult{status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("token response is not JSON: %v", err)
	}
	return r
}

func wsURL(base, token string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/ws?access_token=" + url.QueryEscape(token)
}

func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "ws://" + addr + "/xmpp-websocket"
}

// startProsody starts a Prosody with alice ("alice pw") and bob ("bob pw").
func startProsody(t *testing.T) *testenv.Server {
	t.Helper()
	p := testenv.StartProsody(t, testenv.ProsodyOptions{PasswordHash: "SHA-256"})
	p.AddUser(t, "alice", "alice pw")
	p.AddUser(t, "bob", "bob pw")
	return p
}

func TestWithProsody(t *testing.T) {
	p := startProsody(t)
	ts := startRelay(t, Config{Upstream: p.WebSocketURL, Domain: p.Domain, TokenTTL: 5 * time.Minute})

	t.Run("password grant", func(t *testing.T) {
		tests := []struct {
			name, user, password string
			status               int
			code                 string
		}{
			{"localpart", "alice", "alice pw", 200, ""},
			{"bare JID", "bob@" + p.Domain, "bob pw", 200, ""},
			{"wrong password", "alice", "bob pw", 400, "invalid_grant"},
			{"unknown user", "carol", "x", 400, "invalid_grant"},
			{"other domain", "alice@example.net", "alice pw", 400, "invalid_grant"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := postToken(t, ts.URL, tc.user, tc.password)
				if r.status != tc.status || r.Error != tc.code {
					t.Fatalf("HTTP %d error %q (%s), want %d %q", r.status, r.Error, r.Description, tc.status, tc.code)
				}
				if tc.status == 200 && (r.AccessToken == "" || r.TokenType != "Bearer" || r.ExpiresIn != 300) {
					t.Errorf("token response %+v", r)
				}
			})
		}
	})

	t.Run("bridged session", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		tok := postToken(t, ts.URL, "alice", "alice pw")
		conn, err := xmppws.Dial(ctx, wsURL(ts.URL, tok.AccessToken), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		want := jid.MustParse("alice@" + p.Domain + "/bridged")
		s, err := xmppws.Login(ctx, conn, xmppws.LoginConfig{JID: want, Password: "alice pw"})
		if err != nil {
			t.Fatalf("login through the relay: %v", err)
		}
		if got := s.LocalAddr(); !got.Equal(want) {
			t.Errorf("bound %v, want %v", got, want)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	t.Run("token binds the JID", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		tok := postToken(t, ts.URL, "alice", "alice pw")
		conn, err := xmppws.Dial(ctx, wsURL(ts.URL, tok.AccessToken), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Bob's own password, but on Alice's token: the relay must cut the stream at bind.
		_, err = xmppws.Login(ctx, conn, xmppws.LoginConfig{JID: jid.MustParse("bob@" + p.Domain + "/x"), Password: "bob pw"})
		if err == nil {
			t.Fatal("logged in as bob with alice's token")
		}
		if code := conn.CloseStatus(); code != websocket.StatusPolicyViolation {
			t.Errorf("close status %v (login error %v), want 1008", code, err)
		}
	})

	t.Run("no token", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := xmppws.Dial(ctx, wsURL(ts.URL, ""), nil)
		var he *xmppws.HandshakeError
		if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
			t.Errorf("dial error %v, want handshake refused with 401", err)
		}
	})
}

func TestUpstreamDown(t *testing.T) {
	ts := startRelay(t, Config{Upstream: closedPortURL(t), Domain: "localhost"})

	r := postToken(t, ts.URL, "alice", "pw")
	if r.status != http.StatusServiceUnavailable || r.Error != "temporarily_unavailable" {
		t.Errorf("token: HTTP %d %q, want 503 temporarily_unavailable", r.status, r.Error)
	}
}

func TestBridgeUpstreamUnreachable(t *testing.T) {
	// The token comes from a relay whose upstream works; the bridge of a second relay sharing
	// nothing but the key cannot be built, so use one relay and take Prosody away instead.
	p := testenv.StartProsody(t, testenv.ProsodyOptions{})
	p.AddUser(t, "alice", "pw")
	ts := startRelay(t, Config{Upstream: p.WebSocketURL, Domain: p.Domain})
	tok := postToken(t, ts.URL, "alice", "pw")
	if tok.status != 200 {
		t.Fatalf("token: %+v", tok)
	}
	p.Stop(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(ts.URL, tok.AccessToken), &websocket.DialOptions{Subprotocols: []string{"xmpp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_, _, err = c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusBadGateway || ce.Reason != "upstream unreachable" {
		t.Errorf("read error %v, want close 1014 \"upstream unreachable\"", err)
	}
}

func TestRoutes(t *testing.T) {
	ts := startRelay(t, Config{
		Upstream: closedPortURL(t), Domain: "localhost",
		Assets: fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}, "static/worker.js": {Data: []byte("//")}},
	})
	tests := []struct {
		method, path string
		status       int
		contentType  string
	}{
		{"GET", "/healthz", 200, "text/plain; charset=utf-8"},
		{"GET", "/", 200, "text/html; charset=utf-8"},
		{"GET", "/static/worker.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/nope", 404, ""},
		{"GET", "/api/token", 405, "application/json"},
		{"GET", "/ws", 401, "application/json"},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		if tc.contentType != "" && resp.Header.Get("Content-Type") != tc.contentType {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.path, resp.Header.Get("Content-Type"))
		}
		if tc.path == "/healthz" && string(body) != "ok" {
			t.Errorf("healthz body %q", body)
		}
	}
}

// TestUploadOriginsCSP: pages served by the relay may reach the configured upload origins, and
// nothing else gains from it.
func TestUploadOriginsCSP(t *testing.T) {
	ts := startRelay(t, Config{
		Upstream: closedPortURL(t), Domain: "localhost", UploadOrigins: []string{"https://upload.example.org"},
		Assets: fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}},
	})
	resp, err := http.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"connect-src 'self' https://upload.example.org;", "img-src 'self' data: blob: https://upload.example.org;",
		"media-src 'self' https://upload.example.org;", "script-src 'self' 'wasm-unsafe-eval';"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Upstream: "ws://127.0.0.1:5280/xmpp-websocket", Domain: "example.org"}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"good", func(*Config) {}, ""},
		{"wss and origins", func(c *Config) {
			c.Upstream, c.AllowedOrigins = "wss://xmpp.example.org/ws", []string{"https://a.example", "http://localhost:3000"}
		}, ""},
		{"no upstream", func(c *Config) { c.Upstream = "" }, "upstream: required"},
		{"http upstream", func(c *Config) { c.Upstream = "http://x/ws" }, "ws://, wss://, xmpp:// or xmpps://"},
		{"upstream without host", func(c *Config) { c.Upstream = "ws:///ws" }, "ws://, wss://, xmpp:// or xmpps://"},
		{"no domain", func(c *Config) { c.Domain = "" }, "domain: required"},
		{"domain with user", func(c *Config) { c.Domain = "alice@example.org" }, "not a valid XMPP domain"},
		{"bad origin", func(c *Config) { c.AllowedOrigins = []string{"example.com"} }, "allowed origins"},
		{"upload origins", func(c *Config) { c.UploadOrigins = []string{"https://upload.example.org", "http://127.0.0.1:5280"} }, ""},
		{"bad upload origin", func(c *Config) { c.UploadOrigins = []string{"https://upload.example.org/files"} }, "upload origins"},
		{"negative TTL", func(c *Config) { c.TokenTTL = -time.Second }, "token TTL"},
		{"huge TTL", func(c *Config) { c.TokenTTL = 48 * time.Hour }, "token TTL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mod(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if _, err := New(context.Background(), c); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if _, err := New(context.Background(), c); err == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
}
