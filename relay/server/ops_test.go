package server

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/relay/store"
	"github.com/sparkweb/sparkweb/testenv"
)

func get(t *testing.T, u string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if hdr != nil {
		req.Header = hdr
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestReadyz(t *testing.T) {
	p := testenvProsody(t)
	tests := []struct {
		name, upstream string
		status         int
	}{
		{"upstream up", p.WebSocketURL, 200},
		{"upstream down", closedPortURL(t), 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startRelay(t, Config{Upstream: tc.upstream, Domain: "localhost"})
			resp, body := get(t, ts.URL+"/readyz", nil)
			if resp.StatusCode != tc.status {
				t.Errorf("readyz %d %q, want %d", resp.StatusCode, body, tc.status)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	p := startProsody(t)
	ts := startRelay(t, Config{Upstream: p.WebSocketURL, Domain: p.Domain})
	postToken(t, ts.URL, "alice", "alice pw")
	postToken(t, ts.URL, "alice", "wrong")
	resp, body := get(t, ts.URL+"/metrics", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"# TYPE sparkweb_bridges_open gauge\nsparkweb_bridges_open 0\n",
		`sparkweb_tokens_issued_total{grant="password"} 1`,
		`sparkweb_tokens_refused_total{reason="invalid_grant"} 1`,
		`sparkweb_bridge_bytes_total{direction="to_server"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "alice pw") || strings.Contains(body, "eyJ") {
		t.Error("metrics leak a secret")
	}
}

func TestHostMeta(t *testing.T) {
	tests := []struct {
		name, publicURL, want string
	}{
		{"from request", "", "ws://HOST/ws"},
		{"public URL", "https://chat.example.org/", "wss://chat.example.org/ws"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startRelay(t, Config{Upstream: closedPortURL(t), Domain: "localhost", PublicURL: tc.publicURL})
			want := strings.Replace(tc.want, "HOST", strings.TrimPrefix(ts.URL, "http://"), 1)

			resp, body := get(t, ts.URL+"/.well-known/host-meta", nil)
			var xrd struct {
				XMLName xml.Name `xml:"http://docs.oasis-open.org/ns/xri/xrd-1.0 XRD"`
				Links   []struct {
					Rel  string `xml:"rel,attr"`
					Href string `xml:"href,attr"`
				} `xml:"Link"`
			}
			if err := xml.Unmarshal([]byte(body), &xrd); err != nil || len(xrd.Links) != 1 ||
				xrd.Links[0].Rel != "urn:xmpp:alt-connections:websocket" || xrd.Links[0].Href != want {
				t.Errorf("host-meta %q (%v), want link %s", body, err, want)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Error("host-meta without CORS")
			}
			_, body = get(t, ts.URL+"/.well-known/host-meta.json", nil)
			var j struct {
				Links []struct{ Rel, Href string } `json:"links"`
			}
			if err := json.Unmarshal([]byte(body), &j); err != nil || len(j.Links) != 1 || j.Links[0].Href != want {
				t.Errorf("host-meta.json %q (%v)", body, err)
			}
		})
	}
}

// syncBuffer is a log sink tests can read while the relay writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRequestIDsAndNoSecretsInLogs(t *testing.T) {
	p := startProsody(t)
	var logs syncBuffer
	ts := startRelay(t, Config{Upstream: p.WebSocketURL, Domain: p.Domain,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	tok := postToken(t, ts.URL, "alice", "alice pw")
	postToken(t, ts.URL, "bob", "not bobs pw")

	req, _ := http.NewRequest("POST", ts.URL+"/api/token", strings.NewReader(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"nope"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Request-Id", "trace-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Request-Id") != "trace-42" {
		t.Errorf("request id not echoed: %q", resp.Header.Get("X-Request-Id"))
	}
	resp, _ = get(t, ts.URL+"/healthz", http.Header{"X-Request-Id": {"bad id <script>"}})
	if id := resp.Header.Get("X-Request-Id"); len(id) != 16 {
		t.Errorf("unsafe request id not replaced: %q", id)
	}
	out := logs.String()
	if !strings.Contains(out, "request_id=trace-42") {
		t.Errorf("log lines lack the request id:\n%s", out)
	}
	for _, secret := range []string{"alice pw", "not bobs pw", "nope", tok.AccessToken} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain secret %q", secret)
		}
	}
}

// TestStore: with a store, tokens survive a restart, a second relay on the same file is
// refused, and the refresh and revoke endpoints work end to end.
func TestStore(t *testing.T) {
	p := startProsody(t)
	path := filepath.Join(t.TempDir(), "relay.db")
	cfg := Config{Upstream: p.WebSocketURL, Domain: p.Domain, StorePath: path, Logger: quiet()}

	s1, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), cfg); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second relay on the same store: %v, want ErrLocked", err)
	}
	ts1 := httptestServer(t, s1)
	tok := postToken(t, ts1.URL, "alice", "alice pw")
	ts1.Close()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.auth.Verify(tok.AccessToken); err != nil {
		t.Errorf("token from before the restart refused: %v", err)
	}
	ts2 := httptestServer(t, s2)
	// The refresh cookie is Secure; the test client sends it by hand over plain HTTP.
	resp, err := http.PostForm(ts2.URL+"/api/token", url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"bob pw"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var refresh *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == auth.RefreshCookie {
			refresh = c
		}
	}
	if refresh == nil {
		t.Fatal("no refresh cookie with a store")
	}
	form := func(path string, v url.Values) int {
		req, _ := http.NewRequest("POST", ts2.URL+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(refresh)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, c := range resp.Cookies() {
			if c.Name == auth.RefreshCookie && c.MaxAge > 0 {
				refresh = c
			}
		}
		return resp.StatusCode
	}
	if code := form("/api/token", url.Values{"grant_type": {"refresh_token"}}); code != 200 {
		t.Fatalf("refresh: %d", code)
	}
	if code := form("/api/token/revoke", url.Values{}); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if code := form("/api/token", url.Values{"grant_type": {"refresh_token"}}); code != 400 {
		t.Errorf("refresh after revoke: %d, want 400", code)
	}
}

func httptestServer(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func testenvProsody(t *testing.T) *testenv.Server { return startProsody(t) }
