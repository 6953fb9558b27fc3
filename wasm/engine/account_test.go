package engine_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/relay/server"
	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/engine"
)

// registerStack is a relay in front of x, with --allow-register as given.
func registerStack(t *testing.T, x *testenv.Server, allow bool) stack {
	t.Helper()
	cfg := server.Config{Upstream: x.WebSocketURL, Domain: x.Domain, AllowRegister: allow,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if secret := x.Env["EJABBERD_JWT_SECRET"]; secret != "" {
		// This ejabberd offers only PLAIN (it also takes JWTs): the relay authenticates the stream.
		cfg.UpstreamAuth, cfg.UpstreamJWTSecret = server.UpstreamAuthJWT, []byte(secret)
	}
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return stack{prosody: x, relay: ts.URL}
}

func wantCode(t *testing.T, e *engine.Engine, op string, args any, code string) {
	t.Helper()
	resp := e.Do(context.Background(), req(op, args))
	if resp.OK || resp.Error == nil || resp.Error.Code != code {
		t.Fatalf("%s %v = %+v, want error %q", op, args, resp, code)
	}
}

// TestAccount signs up through the relay (XEP-0077 upstream), then changes the password in band
// and deletes the account, on Prosody with registration allowed and on ejabberd (registration
// from loopback, testenv/ejabberd.yml).
func TestAccount(t *testing.T) {
	for name, start := range map[string]func(testing.TB) *testenv.Server{
		"prosody": func(t testing.TB) *testenv.Server {
			return testenv.StartProsody(t, testenv.ProsodyOptions{AllowRegistration: true})
		},
		"ejabberd": testenv.StartEjabberd,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testAccount(t, start(t))
		})
	}
}

func testAccount(t *testing.T, p *testenv.Server) {
	s := registerStack(t, p, true)
	e, tab := s.engine(t)

	var form engine.RegisterForm
	_ = json.Unmarshal(do(t, e, "account.registerForm", map[string]string{"domain": "localhost"}), &form)
	if !slices.Contains(form.Fields, "username") || !slices.Contains(form.Fields, "password") || form.Domain != "localhost" {
		t.Fatalf("registerForm = %+v", form)
	}
	wantCode(t, e, "account.registerForm", map[string]string{"domain": "elsewhere.example"}, "not-acceptable")

	// Sign up, then log in with the new account.
	if got := field(do(t, e, "account.register", map[string]string{"jid": "dave@localhost", "password": "dave-pw"}), "jid"); got != "dave@localhost" {
		t.Fatalf("registered %q", got)
	}
	wantCode(t, e, "account.register", map[string]string{"jid": "dave@localhost", "password": "other"}, "conflict")
	wantCode(t, e, "account.register", map[string]string{"jid": "dave@localhost", "password": ""}, "bad-request")
	wantCode(t, e, "account.register", map[string]string{"jid": "@@", "password": "x"}, "bad-request")
	wantCode(t, e, "account.register", map[string]string{"jid": "dave@elsewhere.example", "password": "x"}, "not-acceptable")
	do(t, e, "session.login", map[string]string{"jid": "dave@localhost", "password": "dave-pw"})
	tab.waitEvent(t, "session", func(d json.RawMessage) bool { return field(d, "state") == "online" })

	// Change the password: the old one stops working, the new one works, and so does a silent
	// fresh login with the stored keys.
	var changed struct{ Keys bool }
	_ = json.Unmarshal(do(t, e, "account.password", map[string]string{"password": "dave-pw2"}), &changed)
	if !changed.Keys {
		t.Fatal("password changed without new login keys")
	}
	other, _ := s.engine(t)
	wantCode(t, other, "session.login", map[string]string{"jid": "dave@localhost", "password": "dave-pw"}, "not-authorized")
	do(t, other, "session.login", map[string]string{"jid": "dave@localhost", "password": "dave-pw2", "resource": "other"})
	do(t, other, "session.logout", nil)
	mark := tab.count("session", func(json.RawMessage) bool { return true })
	e.ForgetStream()
	e.DropConnection()
	tab.waitEvent(t, "session", func(d json.RawMessage) bool { return field(d, "state") == "reconnecting" })
	tab.waitEvent(t, "session", func(d json.RawMessage) bool {
		if field(d, "state") == "auth-failed" {
			t.Fatalf("silent re-login after the password change failed: %s", d)
		}
		return field(d, "state") == "online" && tab.count("session", func(json.RawMessage) bool { return true }) > mark+1
	})

	// Delete: signed out, everything forgotten, and the account no longer logs in.
	do(t, e, "account.delete", nil)
	if snap := e.Snapshot(); snap.Session.State != "offline" || len(snap.Conversations) != 0 {
		t.Fatalf("after delete: %+v", snap.Session)
	}
	wantCode(t, other, "session.login", map[string]string{"jid": "dave@localhost", "password": "dave-pw2"}, "not-authorized")
	wantCode(t, e, "account.delete", nil, "not-connected")
	wantCode(t, e, "account.password", map[string]string{"password": "x"}, "not-connected")
}

// TestAccountRegisterOff: registration off at the relay, or at the XMPP server, is not-allowed.
func TestAccountRegisterOff(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{}) // allow_registration = false
	for _, tt := range []struct {
		name  string
		relay bool
	}{{"relay off", false}, {"server off", true}} {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := registerStack(t, p, tt.relay).engine(t)
			wantCode(t, e, "account.register", map[string]string{"jid": "eve@localhost", "password": "eve-pw"}, "not-allowed")
			wantCode(t, e, "account.registerForm", nil, "not-allowed")
		})
	}
}

// TestSignOutRevokesRefresh: session.logout and account.delete revoke the relay's refresh token
// (its HttpOnly cookie), so a copy of it cannot sign anyone in afterwards. The relay runs over
// TLS because the cookie is Secure.
func TestSignOutRevokesRefresh(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{})
	srv, err := server.New(context.Background(), server.Config{Upstream: p.WebSocketURL, Domain: p.Domain,
		StorePath: filepath.Join(t.TempDir(), "relay.db"),
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(ts.Close)
	tokenURL, _ := url.Parse(ts.URL + "/api/token")
	refresh := func(t *testing.T, token string) int {
		t.Helper()
		resp, err := ts.Client().PostForm(tokenURL.String(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	for _, tt := range []struct{ user, op string }{{"dave", "session.logout"}, {"erin", "account.delete"}} {
		t.Run(tt.op, func(t *testing.T) {
			p.AddUser(t, tt.user, tt.user+"-pw")
			client := ts.Client()
			client.Jar, _ = cookiejar.New(nil)
			rec := newRecorder()
			e := engine.New(engine.Config{RelayURL: ts.URL, Emit: rec.emit, HTTPClient: client})
			t.Cleanup(e.Close)
			do(t, e, "session.login", map[string]string{"jid": tt.user + "@localhost", "password": tt.user + "-pw"})
			rec.waitEvent(t, "session", func(d json.RawMessage) bool { return field(d, "state") == "online" })
			var token string
			for _, c := range client.Jar.Cookies(tokenURL) {
				if c.Name == auth.RefreshCookie {
					token = c.Value
				}
			}
			if token == "" {
				t.Fatal("no refresh cookie after login")
			}
			do(t, e, tt.op, nil)
			if left := client.Jar.Cookies(tokenURL); len(left) != 0 {
				t.Errorf("cookies left after %s: %v", tt.op, left)
			}
			if code := refresh(t, token); code != http.StatusBadRequest {
				t.Errorf("refresh grant with the token from before %s: HTTP %d, want 400", tt.op, code)
			}
		})
	}
}
