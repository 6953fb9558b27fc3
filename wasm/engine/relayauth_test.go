package engine_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/relay/server"
	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/engine"
)

// TestSiteJWTWithRelayAuth signs in with a JWT minted by the embedding site, against ejabberd
// with the relay authenticating the stream (upstream auth "jwt"): the engine never holds an
// XMPP password, still gets an XMPP session as the site's user, and reconnects by itself.
func TestSiteJWTWithRelayAuth(t *testing.T) {
	ej := testenv.StartEjabberd(t)
	ej.AddUser(t, "alice", "a password the browser never sees")
	ej.AddUser(t, "bob", "bob-pw")
	siteSecret := []byte("site-secret-of-at-least-32-bytes!!")
	srv, err := server.New(context.Background(), server.Config{
		Upstream: ej.WebSocketURL, Domain: ej.Domain,
		UpstreamAuth: server.UpstreamAuthJWT, UpstreamJWTSecret: []byte(ej.Env["EJABBERD_JWT_SECRET"]),
		Assertion: &auth.AssertionConfig{Issuer: "https://site.example", Audience: "sparkweb", HMACSecret: siteSecret},
		Logger:    slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	assertion, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://site.example", "aud": "sparkweb", "sub": "alice",
		"exp": time.Now().Add(5 * time.Minute).Unix(),
	}).SignedString(siteSecret)
	if err != nil {
		t.Fatal(err)
	}

	rec := newRecorder()
	alice := engine.New(engine.Config{RelayURL: ts.URL, Emit: rec.emit})
	t.Cleanup(alice.Close)
	res := do(t, alice, "session.login", map[string]string{"assertion": assertion, "resource": "site"})
	if got := field(res, "jid"); got != "alice@localhost/site" {
		t.Fatalf("bound %q, want alice@localhost/site", got)
	}
	bob := engine.New(engine.Config{RelayURL: ts.URL})
	t.Cleanup(bob.Close)
	do(t, bob, "session.login", map[string]string{"jid": "bob@localhost", "password": "bob-pw"})
	do(t, bob, "chat.send", map[string]string{"to": "alice@localhost/site", "body": "hello site user"})
	rec.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "body") == "hello site user" })

	// The connection drops: the engine comes back without any credential of its own.
	online := rec.count("session", func(d json.RawMessage) bool { return field(d, "state") == "online" })
	alice.ForgetStream()
	alice.DropConnection()
	waitFor(t, func() bool {
		return rec.count("session", func(d json.RawMessage) bool { return field(d, "state") == "online" }) > online
	})

	// A forged assertion is refused.
	forged := engine.New(engine.Config{RelayURL: ts.URL})
	resp := forged.Do(context.Background(), req("session.login", map[string]string{"assertion": assertion[:len(assertion)-2] + "xx"}))
	if resp.OK || resp.Error.Code != "not-authorized" {
		t.Errorf("forged assertion: %+v, want not-authorized", resp)
	}
}
