package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/limit"
	"github.com/sparkweb/sparkweb/relay/store"
)

// fakeChecker stands in for the upstream login in unit tests; the real one is tested against
// Prosody in relay/upstream and relay/server.
type fakeChecker struct {
	users map[string]string // bare JID -> password
	down  bool
	got   []string
}

func (f *fakeChecker) CheckPassword(_ context.Context, user jid.JID, password string) error {
	f.got = append(f.got, user.String())
	if f.down {
		return errors.New("dial tcp 127.0.0.1:1: connection refused")
	}
	if p, ok := f.users[user.String()]; !ok || p != password {
		return fmt.Errorf("upstream said no: %w", ErrInvalidCredentials)
	}
	return nil
}

func newTokenHandler(t *testing.T, down bool) (*TokenHandler, *fakeChecker) {
	t.Helper()
	checker := &fakeChecker{users: map[string]string{"alice@example.org": "s3cret"}, down: down}
	return &TokenHandler{
		Authority: newAuthority(t, Options{TTL: 10 * time.Minute}),
		Checker:   checker,
		Domain:    "example.org",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, checker
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

const formType = "application/x-www-form-urlencoded"

func TestTokenHandlerErrors(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		down        bool
		status      int
		code        string
	}{
		{"GET", http.MethodGet, "", "", false, 405, "invalid_request"},
		{"no content type", "POST", "", form("grant_type", "password"), false, 400, "invalid_request"},
		{"text body", "POST", "text/plain", "hello", false, 400, "invalid_request"},
		{"bad media type", "POST", "a/b; =", "x", false, 400, "invalid_request"},
		{"malformed JSON", "POST", "application/json", `{"grant_type":`, false, 400, "invalid_request"},
		{"two JSON values", "POST", "application/json", `{} {}`, false, 400, "invalid_request"},
		{"JSON wrong type", "POST", "application/json", `{"username": 5}`, false, 400, "invalid_request"},
		{"too large", "POST", formType, form("grant_type", "password", "username", "alice", "password", strings.Repeat("x", 9000)), false, 413, "invalid_request"},
		{"missing grant_type", "POST", formType, form("username", "alice", "password", "s3cret"), false, 400, "invalid_request"},
		{"client_credentials", "POST", formType, form("grant_type", "client_credentials"), false, 400, "unsupported_grant_type"},
		{"missing username", "POST", formType, form("grant_type", "password", "password", "s3cret"), false, 400, "invalid_request"},
		{"missing password", "POST", formType, form("grant_type", "password", "username", "alice"), false, 400, "invalid_request"},
		{"repeated username", "POST", formType, form("grant_type", "password", "username", "alice", "username", "bob", "password", "x"), false, 400, "invalid_request"},
		{"invalid JID", "POST", formType, form("grant_type", "password", "username", "al ice@", "password", "s3cret"), false, 400, "invalid_request"},
		{"full JID", "POST", formType, form("grant_type", "password", "username", "alice@example.org/phone", "password", "s3cret"), false, 400, "invalid_request"},
		{"other domain", "POST", formType, form("grant_type", "password", "username", "alice@evil.example", "password", "s3cret"), false, 400, "invalid_grant"},
		{"wrong password", "POST", formType, form("grant_type", "password", "username", "alice", "password", "nope"), false, 400, "invalid_grant"},
		{"unknown user JSON", "POST", "application/json", `{"grant_type":"password","username":"mallory@example.org","password":"x"}`, false, 400, "invalid_grant"},
		{"server down", "POST", formType, form("grant_type", "password", "username", "alice", "password", "s3cret"), true, 503, "temporarily_unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newTokenHandler(t, tc.down)
			req := httptest.NewRequest(tc.method, "/api/token", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			var e Error
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("body %q is not JSON: %v", rec.Body, err)
			}
			if e.Code != tc.code || e.Description == "" {
				t.Errorf("error %+v, want code %q with a description", e, tc.code)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if strings.Contains(rec.Body.String(), "s3cret") || strings.Contains(rec.Body.String(), "127.0.0.1") {
				t.Errorf("body leaks a secret or internal detail: %s", rec.Body)
			}
		})
	}
}

func TestTokenHandlerSuccess(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
	}{
		{"form localpart", formType, form("grant_type", "password", "username", "alice", "password", "s3cret")},
		{"form bare JID", formType + "; charset=utf-8", form("grant_type", "password", "username", "alice@example.org", "password", "s3cret")},
		{"JSON", "application/json", `{"grant_type":"password","username":"Alice@Example.org","password":"s3cret"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, checker := newTokenHandler(t, false)
			req := httptest.NewRequest("POST", "/api/token", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			var resp tokenResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.TokenType != "Bearer" || resp.ExpiresIn != 600 {
				t.Errorf("response %+v", resp)
			}
			sub, err := h.Authority.Verify(resp.AccessToken)
			if err != nil {
				t.Fatalf("issued token does not verify: %v", err)
			}
			if sub.String() != "alice@example.org" || len(checker.got) != 1 || checker.got[0] != "alice@example.org" {
				t.Errorf("subject %v, checked %v", sub, checker.got)
			}
		})
	}
}

func TestTokenHandlerIgnoresQueryCredentials(t *testing.T) {
	h, _ := newTokenHandler(t, false)
	req := httptest.NewRequest("POST", "/api/token?"+form("username", "alice", "password", "s3cret"),
		strings.NewReader(form("grant_type", "password")))
	req.Header.Set("Content-Type", formType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "missing username") {
		t.Errorf("status %d body %s; want credentials in the query ignored", rec.Code, rec.Body)
	}
}

// TestTokenRateLimits: the per-IP bucket and the per-account backoff each refuse with 429,
// Retry-After and a JSON body, and neither asks the XMPP server once it refuses.
func TestTokenRateLimits(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	type attempt struct {
		ip, user, password string
		status             int
		code               string
	}
	tests := []struct {
		name       string
		perIP      *limit.Rate
		perAccount *limit.Rate
		attempts   []attempt
		checks     int // passwords the server was asked about
	}{
		{"per IP", limit.NewRate(limit.RateConfig{Every: time.Minute, Burst: 2, Now: clock}), nil, []attempt{
			{"192.0.2.1", "alice", "nope", 400, "invalid_grant"},
			{"192.0.2.1", "alice", "s3cret", 200, ""},
			{"192.0.2.1", "alice", "s3cret", 429, "too_many_requests"},
			{"192.0.2.2", "alice", "s3cret", 200, ""},
		}, 3},
		{"per account backoff", nil, limit.NewRate(limit.RateConfig{Backoff: time.Minute, Now: clock}), []attempt{
			{"192.0.2.1", "alice", "nope", 400, "invalid_grant"},
			// From another address, even with the right password: alice is in backoff.
			{"192.0.2.2", "alice", "s3cret", 429, "too_many_requests"},
			{"192.0.2.2", "bob", "x", 400, "invalid_grant"},
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, checker := newTokenHandler(t, false)
			h.PerIP, h.PerAccount, h.Counters = tc.perIP, tc.perAccount, &Counters{}
			for i, a := range tc.attempts {
				req := httptest.NewRequest("POST", "/api/token", strings.NewReader(form("grant_type", "password", "username", a.user, "password", a.password)))
				req.Header.Set("Content-Type", formType)
				req.RemoteAddr = a.ip + ":1234"
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				var e Error
				_ = json.Unmarshal(rec.Body.Bytes(), &e)
				if rec.Code != a.status || e.Code != a.code {
					t.Fatalf("attempt %d: %d %+v, want %d %q", i, rec.Code, e, a.status, a.code)
				}
				if a.status == 429 && (rec.Header().Get("Retry-After") == "" || e.Description == "") {
					t.Errorf("attempt %d: 429 without Retry-After or description", i)
				}
			}
			if len(checker.got) != tc.checks {
				t.Errorf("server asked %d times, want %d", len(checker.got), tc.checks)
			}
			if _, refused := h.Counters.Snapshot(); refused["rate_limited"] != 1 {
				t.Errorf("refusals counted %v", refused)
			}
		})
	}
}

// TestRefreshGrant walks a refresh token's life: issued with the password grant as an HttpOnly,
// Secure, SameSite=Strict cookie scoped to /api/token; exchanged once for a new pair; reuse of
// the rotated token revokes the family, including the newest token; revoke ends a family.
func TestRefreshGrant(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "relay.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, _ := newTokenHandler(t, false)
	h.Refresh = st
	revoke := &RevokeHandler{Refresh: st}

	post := func(hd http.Handler, body, cookie string) (*httptest.ResponseRecorder, *http.Cookie) {
		t.Helper()
		req := httptest.NewRequest("POST", "/api/token", strings.NewReader(body))
		req.Header.Set("Content-Type", formType)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: RefreshCookie, Value: cookie})
		}
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			if c.Name == RefreshCookie {
				return rec, c
			}
		}
		return rec, nil
	}
	errCode := func(rec *httptest.ResponseRecorder) string {
		var e Error
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return e.Code
	}

	rec, c1 := post(h, form("grant_type", "password", "username", "alice", "password", "s3cret"), "")
	if rec.Code != 200 || c1 == nil {
		t.Fatalf("password grant: %d, cookie %v", rec.Code, c1)
	}
	if !c1.HttpOnly || !c1.Secure || c1.SameSite != http.SameSiteStrictMode || c1.Path != "/api/token" || c1.MaxAge <= 0 {
		t.Errorf("cookie attributes %+v", c1)
	}
	if strings.Contains(rec.Body.String(), c1.Value) {
		t.Error("refresh token in the response body")
	}

	rec, c2 := post(h, form("grant_type", "refresh_token"), c1.Value)
	if rec.Code != 200 || c2 == nil || c2.Value == c1.Value {
		t.Fatalf("refresh: %d %s, cookie %v", rec.Code, rec.Body, c2)
	}
	var resp tokenResponse
	_ = json.Unmarshal(rec.Body.Bytes(), &resp)
	if sub, err := h.Authority.Verify(resp.AccessToken); err != nil || sub.String() != "alice@example.org" {
		t.Errorf("refreshed access token: %v %v", sub, err)
	}

	// The parameter form works too (non-browser clients).
	rec, c3 := post(h, form("grant_type", "refresh_token", "refresh_token", c2.Value), "")
	if rec.Code != 200 || c3 == nil {
		t.Fatalf("refresh by parameter: %d %s", rec.Code, rec.Body)
	}

	// Replaying the first token (stolen?) revokes the family: c3, the newest, dies too.
	rec, cleared := post(h, form("grant_type", "refresh_token"), c1.Value)
	if rec.Code != 400 || errCode(rec) != "invalid_grant" || !strings.Contains(rec.Body.String(), "already used") {
		t.Errorf("reuse: %d %s", rec.Code, rec.Body)
	}
	if cleared == nil || cleared.MaxAge >= 0 {
		t.Errorf("reuse did not clear the cookie: %+v", cleared)
	}
	if rec, _ := post(h, form("grant_type", "refresh_token"), c3.Value); rec.Code != 400 || errCode(rec) != "invalid_grant" {
		t.Errorf("newest token of a revoked family: %d %s", rec.Code, rec.Body)
	}

	// Revoke: a fresh sign-in, revoked by cookie, cannot refresh.
	_, c4 := post(h, form("grant_type", "password", "username", "alice", "password", "s3cret"), "")
	rec, cleared = post(revoke, "", c4.Value)
	if rec.Code != 200 || cleared == nil || cleared.MaxAge >= 0 {
		t.Errorf("revoke: %d, cookie %+v", rec.Code, cleared)
	}
	if rec, _ := post(h, form("grant_type", "refresh_token"), c4.Value); rec.Code != 400 {
		t.Errorf("revoked token refreshed: %d", rec.Code)
	}
	// Unknown tokens revoke "successfully" (RFC 7009): nothing to learn from the answer.
	if rec, _ := post(revoke, form("token", "nonsense"), ""); rec.Code != 200 {
		t.Errorf("revoke unknown: %d", rec.Code)
	}
	if rec, _ := post(h, form("grant_type", "refresh_token"), ""); rec.Code != 400 || errCode(rec) != "invalid_request" {
		t.Errorf("refresh without token: %d %s", rec.Code, rec.Body)
	}
}
