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
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
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
