package register

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sparkweb/sparkweb/relay/limit"
)

// TestHandlerRefusals covers every answer given before the XMPP server is asked, and the
// answer when it cannot be reached. Registrations that reach a real server are tested in
// wasm/engine (TestAccount, TestAccountRegisterOff).
func TestHandlerRefusals(t *testing.T) {
	down := func(context.Context, string) (net.Conn, error) { return nil, errors.New("connection refused") }
	tests := []struct {
		name   string
		dial   func(context.Context, string) (net.Conn, error)
		method string
		ctype  string
		body   string
		status int
		code   string
	}{
		{"off", nil, "POST", "application/json", `{"username":"a","password":"p"}`, 403, "not-allowed"},
		{"off info", nil, "GET", "", "", 403, "not-allowed"},
		{"method", down, "PUT", "", "", 405, "invalid_request"},
		{"no content type", down, "POST", "", `{}`, 400, "invalid_request"},
		{"bad json", down, "POST", "application/json", `{"username":`, 400, "invalid_request"},
		{"two json values", down, "POST", "application/json", `{} {}`, 400, "invalid_request"},
		{"no username", down, "POST", "application/json", `{"password":"p"}`, 400, "not-acceptable"},
		{"bad username", down, "POST", "application/json", `{"username":"a b@@","password":"p"}`, 400, "not-acceptable"},
		{"other domain", down, "POST", "application/json", `{"username":"a@elsewhere","password":"p"}`, 400, "not-acceptable"},
		{"no password", down, "POST", "application/json", `{"username":"a"}`, 400, "not-acceptable"},
		{"long password", down, "POST", "application/json", `{"username":"a","password":"` + strings.Repeat("x", maxPassword+1) + `"}`, 400, "not-acceptable"},
		{"huge body", down, "POST", "application/json", `{"username":"` + strings.Repeat("x", maxBodyBytes) + `"}`, 400, "invalid_request"},
		{"server down", down, "POST", "application/x-www-form-urlencoded", `username=a&password=p`, 503, "temporarily_unavailable"},
		{"server down info", down, "GET", "", "", 503, "temporarily_unavailable"},
		{"info other domain", down, "GET", "", "", 400, "not-acceptable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Handler{Dial: tt.dial, Domain: "example.org"}
			target := "/api/register"
			if tt.name == "info other domain" {
				target += "?domain=elsewhere"
			}
			r := httptest.NewRequest(tt.method, target, strings.NewReader(tt.body))
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var got struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal(w.Body.Bytes(), &got)
			if w.Code != tt.status || got.Error != tt.code {
				t.Fatalf("%d %s, want %d %s", w.Code, w.Body, tt.status, tt.code)
			}
		})
	}
}

// TestHandlerRateLimit: the per-address limit answers 429 with Retry-After before any work.
func TestHandlerRateLimit(t *testing.T) {
	dials := 0
	h := &Handler{Domain: "example.org", PerIP: limit.NewRate(limit.RateConfig{Every: time.Hour, Burst: 2}),
		Dial: func(context.Context, string) (net.Conn, error) { dials++; return nil, errors.New("down") }}
	codes := []int{}
	for range 3 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/api/register", nil))
		codes = append(codes, w.Code)
		if w.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if codes[2] != http.StatusTooManyRequests || dials != 2 {
		t.Fatalf("codes %v after %d dials, want the third refused", codes, dials)
	}
}
