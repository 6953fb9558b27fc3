package server

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/relay/bridge"
	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// tokenExtra posts a password grant and returns the whole JSON answer.
func tokenJSON(t *testing.T, base string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(base+"/api/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("token response is not JSON: %v", err)
	}
	return resp.StatusCode, m
}

// loginThrough dials the relay with token and logs in as as (the identity the client claims)
// with PLAIN and password, as the engine does on an "xmpp_auth": "relay" token.
func loginThrough(ctx context.Context, t *testing.T, base, token string, as jid.JID, password string, mechs ...sasl.Mechanism) (*xmpp.Session, *xmppws.Conn, error) {
	t.Helper()
	conn, err := xmppws.Dial(ctx, wsURL(base, token), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cfg := xmppws.LoginConfig{JID: as, Password: password, AllowPlain: true, Mechanisms: mechs}
	s, err := xmppws.Login(ctx, conn, cfg)
	return s, conn, err
}

// rawOpen opens a bridge with a bare WebSocket, sends <open/> and returns the connection and
// the stream features the client is shown.
func rawOpen(ctx context.Context, t *testing.T, base, token, domain string) (*websocket.Conn, string) {
	t.Helper()
	c, _, err := websocket.Dial(ctx, wsURL(base, token), &websocket.DialOptions{Subprotocols: []string{"xmpp"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	open := `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="` + domain + `" version="1.0"/>`
	if err := c.Write(ctx, websocket.MessageText, []byte(open)); err != nil {
		t.Fatal(err)
	}
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for features: %v", err)
		}
		if strings.Contains(string(msg), "features") {
			return c, string(msg)
		}
	}
}

// closeOf reads until the bridge closes and returns the close frame.
func closeOf(ctx context.Context, c *websocket.Conn) websocket.CloseError {
	for {
		if _, _, err := c.Read(ctx); err != nil {
			var ce websocket.CloseError
			errors.As(err, &ce)
			return ce
		}
	}
}

// TestJWTUpstreamAuth runs the relay in jwt mode against ejabberd (auth_method [mnesia, jwt]):
// the client never sends a usable password, the relay signs it in as the token's subject.
func TestJWTUpstreamAuth(t *testing.T) {
	e := testenv.StartEjabberd(t)
	e.AddUser(t, "alice", "alice pw")
	e.AddUser(t, "bob", "bob pw")
	secret := []byte(e.Env["EJABBERD_JWT_SECRET"])
	ts := startRelay(t, Config{Upstream: e.WebSocketURL, Domain: e.Domain, UpstreamAuth: UpstreamAuthJWT, UpstreamJWTSecret: secret})
	alice := jid.MustParse("alice@" + e.Domain)

	status, resp := tokenJSON(t, ts.URL, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice pw"}})
	if status != 200 || resp["xmpp_auth"] != "relay" {
		t.Fatalf("token: HTTP %d %v, want 200 with xmpp_auth relay", status, resp)
	}
	token := resp["access_token"].(string)
	if status, resp := tokenJSON(t, ts.URL, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong"}}); status != 400 || resp["error"] != "invalid_grant" {
		t.Errorf("wrong password: HTTP %d %v, want 400 invalid_grant (still checked upstream)", status, resp)
	}

	logins := []struct {
		name     string
		as       jid.JID
		password string
	}{
		{"empty placeholder", jid.MustParse("alice@" + e.Domain + "/placeholder"), ""},
		{"wrong password ignored", jid.MustParse("alice@" + e.Domain + "/wrong"), "not alice's password"},
		{"claims to be bob with bob's password", jid.MustParse("bob@" + e.Domain + "/impostor"), "bob pw"},
	}
	for _, tc := range logins {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			s, _, err := loginThrough(ctx, t, ts.URL, token, tc.as, tc.password)
			if err != nil {
				t.Fatalf("login through the relay: %v", err)
			}
			defer s.Close()
			if got := s.LocalAddr(); !got.Bare().Equal(alice) {
				t.Errorf("bound %v, want the token's user %v", got, alice)
			}
		})
	}

	t.Run("features offer PLAIN only", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, features := rawOpen(ctx, t, ts.URL, token, e.Domain)
		if !strings.Contains(features, "<mechanism>PLAIN</mechanism>") || strings.Count(features, "<mechanism>") != 1 {
			t.Errorf("features %s, want PLAIN alone", features)
		}
	})

	refusals := []struct {
		name, send, reason string
	}{
		{"SCRAM", `<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="SCRAM-SHA-1">biwsbj1hbGljZSxyPWFiYw==</auth>`, bridge.ErrMechanism.Error()},
		{"SASL response", `<response xmlns="urn:ietf:params:xml:ns:xmpp-sasl">eA==</response>`, bridge.ErrMechanism.Error()},
		{"two elements in one message", `<presence xmlns="jabber:client"/><auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="SCRAM-SHA-1">x</auth>`, bridge.ErrNotOneElement.Error()},
		{"half an element", `<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="SCRAM-SHA-1"`, bridge.ErrNotOneElement.Error()},
	}
	for _, tc := range refusals {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _ := rawOpen(ctx, t, ts.URL, token, e.Domain)
			if err := c.Write(ctx, websocket.MessageText, []byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			if ce := closeOf(ctx, c); ce.Code != websocket.StatusPolicyViolation || ce.Reason != tc.reason {
				t.Errorf("closed with %d %q, want 1008 %q", ce.Code, ce.Reason, tc.reason)
			}
		})
	}

	t.Run("SCRAM client fails", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, _, err := loginThrough(ctx, t, ts.URL, token, alice, "alice pw", sasl.ScramSha1); err == nil {
			t.Error("a SCRAM-only client logged in on a jwt bridge")
		}
	})
}

// TestPasswordModeNeedsPassword is the control for TestJWTUpstreamAuth: without jwt mode, the
// same placeholder login is refused by ejabberd.
func TestPasswordModeNeedsPassword(t *testing.T) {
	e := testenv.StartEjabberd(t)
	e.AddUser(t, "alice", "alice pw")
	ts := startRelay(t, Config{Upstream: e.WebSocketURL, Domain: e.Domain})
	status, resp := tokenJSON(t, ts.URL, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice pw"}})
	if status != 200 || resp["xmpp_auth"] != nil {
		t.Fatalf("token: HTTP %d %v, want 200 without xmpp_auth", status, resp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, _, err := loginThrough(ctx, t, ts.URL, resp["access_token"].(string), jid.MustParse("alice@"+e.Domain), "placeholder")
	if !errors.Is(err, xmppws.ErrNotAuthorized) {
		t.Errorf("login with a placeholder in password mode: %v, want not authorized", err)
	}
}

// TestTCPUpstream bridges WebSocket clients to each server's plain client port: alice and
// bob get tokens (the password check runs over TCP too), log in through the relay and
// exchange a message.
func TestTCPUpstream(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s *testenv.Server) {
		s.AddUser(t, "alice", "alice pw")
		s.AddUser(t, "bob", "bob pw")
		ts := startRelay(t, Config{Upstream: "xmpp://" + s.C2SAddr, Domain: s.Domain})
		exchange(t, ts.URL, s.Domain)
	})
}

// exchange logs alice and bob in through the relay at base and sends a message from alice to
// bob, failing the test unless bob receives it.
func exchange(t *testing.T, base, domain string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sessions := map[string]*xmpp.Session{}
	for _, user := range []string{"alice", "bob"} {
		tok := postToken(t, base, user, user+" pw")
		if tok.status != 200 {
			t.Fatalf("token for %s: %+v", user, tok)
		}
		want := jid.MustParse(user + "@" + domain + "/tcp")
		s, _, err := loginThrough(ctx, t, base, tok.AccessToken, want, user+" pw")
		if err != nil {
			t.Fatalf("%s: login through the relay: %v", user, err)
		}
		if got := s.LocalAddr(); !got.Equal(want) {
			t.Fatalf("%s: bound %v, want %v", user, got, want)
		}
		sessions[user] = s
		t.Cleanup(func() { s.Close() })
	}
	got := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- sessions["bob"].Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			if start.Name.Local != "message" {
				return nil
			}
			// The reader holds the message's children and its end.
			var body strings.Builder
			inBody := false
			for {
				tok, err := r.Token()
				if err != nil {
					break
				}
				switch tt := tok.(type) {
				case xml.StartElement:
					inBody = tt.Name.Local == "body"
				case xml.EndElement:
					inBody = false
				case xml.CharData:
					if inBody {
						body.Write(tt)
					}
				}
			}
			got <- body.String()
			return nil
		}))
	}()
	msg := stanza.Message{To: sessions["bob"].LocalAddr(), Type: stanza.ChatMessage}.Wrap(
		xmlstream.Wrap(xmlstream.Token(xml.CharData("hello over TCP")), xml.StartElement{Name: xml.Name{Local: "body"}}))
	if err := sessions["alice"].Send(ctx, msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	select {
	case body := <-got:
		if body != "hello over TCP" {
			t.Errorf("bob got %q", body)
		}
	case err := <-served:
		t.Fatalf("bob's session ended: %v", err)
	case <-ctx.Done():
		t.Fatal("bob got no message")
	}
}

// TestOAuthBearerUpstreamAuth runs the relay in oauthbearer mode against Prosody with
// prosody-modules' mod_auth_oauthbearer, which knows no passwords at all: every login is a
// relay-minted bearer token that Prosody checks on the relay's internal endpoint.
func TestOAuthBearerUpstreamAuth(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const secret = "prosody-client-secret-0123"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Env: []string{
		"PROSODY_OAUTH_URL=https://" + ln.Addr().String() + InternalPath + "{{password}}",
		"PROSODY_OAUTH_CLIENT_SECRET=" + secret,
	}})
	srv, err := New(ctx, Config{Upstream: p.WebSocketURL, Domain: p.Domain, UpstreamAuth: UpstreamAuthOAuthBearer,
		OAuthClientSecret: secret, Assertion: &auth.AssertionConfig{Issuer: "https://site.example", Audience: "sparkweb", HMACSecret: []byte(siteSecret)},
		Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ictx, stopInternal := context.WithCancel(ctx)
	internalDone := make(chan error, 1)
	go func() { internalDone <- srv.ServeInternal(ictx, ln) }()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	if status, resp := tokenJSON(t, ts.URL, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"x"}}); status != 400 || resp["error"] != "unsupported_grant_type" {
		t.Errorf("password grant: HTTP %d %v, want 400 unsupported_grant_type (nothing can check a password)", status, resp)
	}
	status, resp := tokenJSON(t, ts.URL, url.Values{"grant_type": {auth.GrantJWTBearer}, "assertion": {siteJWT(t, "alice")}})
	if status != 200 || resp["xmpp_auth"] != "relay" {
		t.Fatalf("jwt-bearer grant: HTTP %d %v, want 200 with xmpp_auth relay", status, resp)
	}
	token := resp["access_token"].(string)
	alice := jid.MustParse("alice@" + p.Domain)

	for _, as := range []jid.JID{jid.MustParse("alice@" + p.Domain + "/a"), jid.MustParse("bob@" + p.Domain + "/impostor")} {
		lctx, lcancel := context.WithTimeout(ctx, 15*time.Second)
		s, _, err := loginThrough(lctx, t, ts.URL, token, as, "")
		if err != nil {
			lcancel()
			t.Fatalf("login as %v through the relay: %v", as, err)
		}
		if got := s.LocalAddr(); !got.Bare().Equal(alice) {
			t.Errorf("client claiming %v bound %v, want the token's user %v", as, got, alice)
		}
		s.Close()
		lcancel()
	}

	// Control: without the relay's check endpoint, Prosody has nothing to accept.
	stopInternal()
	if err := <-internalDone; err != nil {
		t.Fatalf("internal endpoint: %v", err)
	}
	lctx, lcancel := context.WithTimeout(ctx, 15*time.Second)
	defer lcancel()
	if _, _, err := loginThrough(lctx, t, ts.URL, token, alice, ""); !errors.Is(err, xmppws.ErrNotAuthorized) {
		t.Errorf("login with the check endpoint down: %v, want not authorized", err)
	}
}

const siteSecret = "the embedding site's HS256 secret, 32+ bytes"

// siteJWT is what an embedding site mints for user (RFC 7523 jwt-bearer grant).
func siteJWT(t *testing.T, user string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://site.example", "aud": "sparkweb", "sub": user, "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString([]byte(siteSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
