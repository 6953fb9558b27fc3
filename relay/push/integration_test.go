package push_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/push"
	"github.com/sparkweb/sparkweb/relay/server"
	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/testenv/pushservice"
	"github.com/sparkweb/sparkweb/wasm/engine"
	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/sm"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// stack is a real XMPP server, the relay with Web Push on, and a local push service.
type stack struct {
	xmpp  *testenv.Server
	relay string
	srv   *server.Server
	ps    *pushservice.Service
}

type stackOptions struct {
	ejabberd bool
	pushBody bool // Prosody: sender and body in the summaries
}

func startStack(tb testing.TB, o stackOptions) *stack {
	tb.Helper()
	var x *testenv.Server
	prefix := "PROSODY"
	if o.ejabberd {
		x, prefix = testenv.StartEjabberd(tb), "EJABBERD"
	} else {
		x = testenv.StartProsody(tb, testenv.ProsodyOptions{PushBody: o.pushBody})
	}
	for _, u := range []string{"alice", "bob"} {
		x.AddUser(tb, u, u+"-pw")
	}
	x.Befriend(tb, "alice", "bob")
	ps := pushservice.Start(tb)
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	logger := slog.New(slog.DiscardHandler)
	if t, ok := tb.(*testing.T); ok {
		logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := server.New(ctx, server.Config{Upstream: x.WebSocketURL, Domain: x.Domain, Logger: logger,
		Push: &push.Config{
			ComponentAddr:     "127.0.0.1:" + x.Env[prefix+"_COMPONENT_PORT"],
			ComponentSecret:   x.Env[prefix+"_COMPONENT_SECRET"],
			AllowLoopbackHTTP: true,
		}})
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	s := &stack{xmpp: x, relay: ts.URL, srv: srv, ps: ps}
	waitUntil(tb, "the push component connects", srv.Push().Connected)
	return s
}

// engine logs user in with a new engine (a browser) on resource.
func (s *stack) engine(tb testing.TB, user, resource string) *engine.Engine {
	tb.Helper()
	e := engine.New(engine.Config{RelayURL: s.relay})
	tb.Cleanup(e.Close)
	do(tb, e, "session.login", map[string]string{"jid": user + "@" + s.xmpp.Domain, "password": user + "-pw", "resource": resource})
	return e
}

// subscribe makes a browser subscription bound to the relay's VAPID key and registers it
// through the engine, as the page does.
func (s *stack) subscribe(tb testing.TB, e *engine.Engine) *pushservice.Subscription {
	tb.Helper()
	sub, err := s.ps.Subscribe(s.vapidKey(tb))
	if err != nil {
		tb.Fatal(err)
	}
	res := do(tb, e, "push.register", map[string]any{"subscription": sub.JSON()})
	if string(res) != `{"enabled":true}` {
		tb.Fatalf("push.register = %s", res)
	}
	return sub
}

// offline closes engines as closing the browser does (the server hibernates the session) and
// waits until the relay has no bridge left for the account.
func (s *stack) offline(tb testing.TB, user string, es ...*engine.Engine) {
	tb.Helper()
	for _, e := range es {
		e.Close()
	}
	waitUntil(tb, user+"'s bridges close", func() bool { return !s.srv.Push().Live(user + "@" + s.xmpp.Domain) })
}

// bridges reads sparkweb_bridges_open from /metrics.
func (s *stack) bridges(tb testing.TB) int {
	return s.metric(tb, "sparkweb_bridges_open")
}

func (s *stack) metric(tb testing.TB, name string) int {
	tb.Helper()
	resp, err := http.Get(s.relay + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\d+)$`).FindSubmatch(b)
	if m == nil {
		tb.Fatalf("metric %s not in /metrics:\n%s", name, b)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// nextPush waits for the next push and decodes its payload.
func (s *stack) nextPush(tb testing.TB) (pushservice.Push, push.Payload) {
	tb.Helper()
	select {
	case p := <-s.ps.Pushes():
		var pl push.Payload
		if err := json.Unmarshal(p.Payload, &pl); err != nil {
			tb.Fatalf("push payload %q: %v", p.Payload, err)
		}
		return p, pl
	case <-time.After(15 * time.Second):
		tb.Fatalf("no push within 15s; push service rejected: %v; stats: %s", s.ps.Rejected(), s.stats())
	}
	panic("unreachable")
}

// noPush checks that no push is waiting.
func (s *stack) noPush(tb testing.TB) {
	tb.Helper()
	select {
	case p := <-s.ps.Pushes():
		tb.Fatalf("unexpected push to %s: %s", p.Subscription, p.Payload)
	default:
	}
}

func (s *stack) stats() string {
	st := s.srv.Push().Stats()
	return fmt.Sprintf("sent=%d suppressed=%d removed=%d gone=%d result=%d item-not-found=%d",
		st.Sent.Load(), st.Suppressed.Load(), st.Removed.Load(), st.FailedCount("gone"), st.PublicationCount("result"), st.PublicationCount("item-not-found"))
}

func send(tb testing.TB, from *engine.Engine, to, body string) {
	tb.Helper()
	do(tb, from, "chat.send", map[string]string{"to": to, "body": body})
}

func do(tb testing.TB, e *engine.Engine, op string, args any) json.RawMessage {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	raw, _ := json.Marshal(args)
	resp := e.Do(ctx, protocol.Request{ID: json.RawMessage(`1`), Op: op, Args: raw})
	if !resp.OK {
		tb.Fatalf("%s: %v", op, resp.Error)
	}
	b, _ := json.Marshal(resp.Result)
	return b
}

func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPushProsody: alice enables push through the engine and closes her browser; bob's
// message reaches the push service as an encrypted, VAPID-signed push that decrypts to the
// sender, body and count (Prosody mod_cloud_notify with and without bodies in summaries).
func TestPushProsody(t *testing.T) {
	tests := []struct {
		name     string
		pushBody bool
		want     push.Payload
	}{
		{"with body", true, push.Payload{Type: "message", From: "bob@localhost", Body: "wherefore art thou <alice> & co?", Count: 1}},
		// Without push_notification_with_body/sender Prosody sends its placeholder, no sender.
		{"placeholders", false, push.Payload{Type: "message", Body: "New Message!", Count: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startStack(t, stackOptions{pushBody: tt.pushBody})
			alice := s.engine(t, "alice", "web")
			bob := s.engine(t, "bob", "laptop")
			s.subscribe(t, alice)
			s.offline(t, "alice", alice)

			send(t, bob, "alice@localhost", "wherefore art thou <alice> & co?")
			p, got := s.nextPush(t)
			if got != tt.want {
				t.Errorf("payload = %+v, want %+v", got, tt.want)
			}
			if p.TTL != 86400 || p.Urgency != "high" || len(p.Topic) != 32 || p.Subject != "mailto:postmaster@localhost" {
				t.Errorf("push headers: TTL %d, urgency %q, topic %q, VAPID sub %q", p.TTL, p.Urgency, p.Topic, p.Subject)
			}
			if r := s.ps.Rejected(); len(r) > 0 {
				t.Errorf("push service rejected requests: %v", r)
			}
			waitUntil(t, "the push is counted", func() bool { return s.srv.Push().Stats().Sent.Load() == 1 })
			time.Sleep(300 * time.Millisecond) // room for a duplicate to show up
			s.noPush(t)
		})
	}
}

// TestPushEjabberd is TestPushProsody against ejabberd's mod_push (include_sender, body text
// "New Message!"), whose empty hibernation-start notification must not become a push. The
// test environment's ejabberd also accepts JWT logins, so it offers SASL PLAIN only, which the
// engine never uses: alice and bob are plain XMPP clients through the relay's bridge here.
func TestPushEjabberd(t *testing.T) {
	s := startStack(t, stackOptions{ejabberd: true})
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(s.xmpp.Dir + "/log/ejabberd.log")
			t.Logf("ejabberd.log:\n%s", b)
		}
	})
	alice, aliceConn := s.rawLogin(t, "alice")
	bob, _ := s.rawLogin(t, "bob")

	// What push.register does: the subscription to the relay, then <enable/> on the server.
	sub, err := s.ps.Subscribe(s.vapidKey(t))
	if err != nil {
		t.Fatal(err)
	}
	var reg push.Registration
	s.api(t, http.MethodPost, s.token(t, "alice"), sub.JSON(), http.StatusCreated, &reg)
	enable := fmt.Sprintf(`<iq xmlns='jabber:client' type='set' id='e1'><enable xmlns='urn:xmpp:push:0' jid='%s' node='%s'>`+
		`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>`+
		`<field var='secret'><value>%s</value></field></x></enable></iq>`, reg.Service, reg.Node, reg.Secret)
	if err := alice.UnmarshalIQ(t.Context(), xml.NewDecoder(strings.NewReader(enable)), nil); err != nil {
		t.Fatalf("enable push: %v", err)
	}
	_ = aliceConn.Close() // the session hibernates (XEP-0198)
	waitUntil(t, "alice's bridge closes", func() bool { return !s.srv.Push().Live("alice@localhost") })

	msg := `<message xmlns='jabber:client' type='chat' to='alice@localhost' id='m1'><body>hello from bob</body></message>`
	if err := bob.Send(t.Context(), xml.NewDecoder(strings.NewReader(msg))); err != nil {
		t.Fatal(err)
	}
	_, got := s.nextPush(t)
	want := push.Payload{Type: "message", From: "bob@localhost", Body: "New Message!", Count: 1}
	if got != want {
		t.Errorf("payload = %+v, want %+v", got, want)
	}
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show up
	s.noPush(t)
	if r := s.ps.Rejected(); len(r) > 0 {
		t.Errorf("push service rejected requests: %v", r)
	}
}

// rawLogin signs user in through the relay's bridge with SASL PLAIN and stream management.
func (s *stack) rawLogin(t *testing.T, user string) (*xmpp.Session, *xmppws.Conn) {
	t.Helper()
	u, _ := url.Parse(s.relay)
	u.Scheme, u.Path, u.RawQuery = "ws", "/ws", url.Values{"access_token": {s.token(t, user)}}.Encode()
	conn, err := xmppws.Dial(t.Context(), u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := sm.New(sm.Options{}).Login(t.Context(), conn, xmppws.LoginConfig{
		JID: jid.MustParse(user + "@" + s.xmpp.Domain + "/raw"), Password: user + "-pw", AllowPlain: true})
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	go func() { _ = sess.Serve(nil) }()
	t.Cleanup(func() { _ = conn.Close() })
	// Available, so that messages to the bare JID reach this session.
	if err := sess.Send(t.Context(), xml.NewDecoder(strings.NewReader("<presence xmlns='jabber:client'/>"))); err != nil {
		t.Fatal(err)
	}
	return sess, conn
}

// token gets a relay JWT for user with the password grant.
func (s *stack) token(t *testing.T, user string) string {
	t.Helper()
	resp, err := http.PostForm(s.relay+"/api/token", url.Values{"grant_type": {"password"}, "username": {user}, "password": {user + "-pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token for %s: HTTP %d %v", user, resp.StatusCode, err)
	}
	return tok.AccessToken
}

func (s *stack) vapidKey(tb testing.TB) string {
	tb.Helper()
	resp, err := http.Get(s.relay + "/api/push/vapid")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		PublicKey string `json:"publicKey"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.PublicKey == "" {
		tb.Fatalf("GET /api/push/vapid: %v %+v", err, v)
	}
	return v.PublicKey
}

// api calls /api/push/subscriptions and decodes a want-status answer into out.
func (s *stack) api(t *testing.T, method, token string, body any, want int, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.relay+"/api/push/subscriptions", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s /api/push/subscriptions: HTTP %d %s, want %d", method, resp.StatusCode, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s /api/push/subscriptions: %v in %s", method, err, raw)
		}
	}
}

// TestPushLiveTab: while a tab of alice is connected, a publication (for her other, hibernated
// session) is not pushed; once no tab is left, it is.
func TestPushLiveTab(t *testing.T) {
	s := startStack(t, stackOptions{pushBody: true})
	phone := s.engine(t, "alice", "phone")
	desk := s.engine(t, "alice", "desk")
	bob := s.engine(t, "bob", "laptop")
	s.subscribe(t, phone)
	phone.Close() // hibernates; desk stays live
	waitUntil(t, "phone's bridge closes", func() bool { return s.bridges(t) == 2 })
	time.Sleep(100 * time.Millisecond) // the bridge's slot is released just after the gauge

	send(t, bob, "alice@localhost", "seen on the desk")
	waitUntil(t, "the publication is suppressed", func() bool { return s.srv.Push().Stats().Suppressed.Load() == 1 })
	s.noPush(t)

	s.offline(t, "alice", desk)
	send(t, bob, "alice@localhost", "nobody is looking")
	_, got := s.nextPush(t)
	if got.Body != "nobody is looking" {
		t.Errorf("pushed %+v, want the second message", got)
	}
	time.Sleep(300 * time.Millisecond)
	s.noPush(t)
}

// TestPushFanOutAndGone: two browsers of alice get a push each; a subscription the push
// service reports gone (410) is deleted while the other keeps getting pushes; when the last
// one is gone the relay answers the server's next publication with item-not-found.
func TestPushFanOutAndGone(t *testing.T) {
	s := startStack(t, stackOptions{pushBody: true})
	laptop := s.engine(t, "alice", "laptop")
	phone := s.engine(t, "alice", "phone")
	bob := s.engine(t, "bob", "desk")
	subLaptop := s.subscribe(t, laptop)
	subPhone := s.subscribe(t, phone)
	s.offline(t, "alice", laptop, phone)

	// Fan-out: one push per subscription, whatever the server's count of publications.
	send(t, bob, "alice@localhost", "one")
	got := map[string]string{}
	for range 2 {
		p, pl := s.nextPush(t)
		got[p.Subscription] = pl.Body
	}
	if got[subLaptop.ID] != "one" || got[subPhone.ID] != "one" {
		t.Fatalf("pushes by subscription = %v, want \"one\" to both", got)
	}

	// The laptop's subscription is gone: deleted on the first 410, the phone still gets pushes.
	s.ps.Respond(subLaptop, http.StatusGone, "")
	send(t, bob, "alice@localhost", "two")
	if p, pl := s.nextPush(t); p.Subscription != subPhone.ID || pl.Body != "two" {
		t.Fatalf("push to %s %+v, want \"two\" to the phone", p.Subscription, pl)
	}
	waitUntil(t, "the gone subscription is removed", func() bool { return s.srv.Push().Stats().Removed.Load() == 1 })
	before := s.ps.Requests(subLaptop)
	send(t, bob, "alice@localhost", "three")
	if p, pl := s.nextPush(t); p.Subscription != subPhone.ID || pl.Body != "three" {
		t.Fatalf("push to %s %+v, want \"three\" to the phone", p.Subscription, pl)
	}
	if n := s.ps.Requests(subLaptop); n != before {
		t.Errorf("the removed subscription got %d more requests", n-before)
	}

	// The last one goes too: the registration is deleted, and the next publication is refused.
	s.ps.Respond(subPhone, http.StatusGone, "")
	send(t, bob, "alice@localhost", "four")
	waitUntil(t, "the last subscription is removed", func() bool { return s.srv.Push().Stats().Removed.Load() == 2 })
	send(t, bob, "alice@localhost", "five")
	waitUntil(t, "the publication is refused", func() bool { return s.srv.Push().Stats().PublicationCount("item-not-found") >= 1 })
	s.noPush(t)
	if r := s.ps.Rejected(); len(r) > 0 {
		t.Errorf("push service rejected requests: %v", r)
	}
}

// TestPushUnregisterAndLogout: push.unregister removes the subscription and, as the account's
// last, disables push on the server, so no publication comes at all; logout does the same.
func TestPushUnregisterAndLogout(t *testing.T) {
	s := startStack(t, stackOptions{pushBody: true})
	alice := s.engine(t, "alice", "web")
	bob := s.engine(t, "bob", "laptop")
	sub := s.subscribe(t, alice)
	res := do(t, alice, "push.unregister", map[string]string{"endpoint": sub.Endpoint})
	if string(res) != `{"enabled":false,"remaining":0}` {
		t.Fatalf("push.unregister = %s", res)
	}
	s.offline(t, "alice", alice)
	send(t, bob, "alice@localhost", "after unregister")
	time.Sleep(500 * time.Millisecond)
	if n := s.srv.Push().Stats().PublicationCount("result") + s.srv.Push().Stats().PublicationCount("item-not-found"); n != 0 {
		t.Errorf("%d publications after disable, want none: %s", n, s.stats())
	}

	// Logout: the same, from the stored registration.
	alice2 := s.engine(t, "alice", "web2")
	s.subscribe(t, alice2)
	do(t, alice2, "session.logout", nil)
	waitUntil(t, "alice's bridge closes", func() bool { return s.bridges(t) == 1 })
	send(t, bob, "alice@localhost", "after logout")
	time.Sleep(500 * time.Millisecond)
	s.noPush(t)
	if n := s.srv.Push().Stats().PublicationCount("result"); n != 0 {
		t.Errorf("%d publications after logout, want none: %s", n, s.stats())
	}
}

// BenchmarkPushLatency measures the time from bob's message leaving his engine (chat.send) to
// the encrypted push arriving at the push service, through Prosody, the component and the
// relay: for a hibernated session (the browser just closed; Prosody batches these pushes with a
// 1 s timer) and for an account with no session at all (offline storage pushes at once).
func BenchmarkPushLatency(b *testing.B) {
	for _, mode := range []string{"hibernated", "offline"} {
		b.Run(mode, func(b *testing.B) {
			s := startStack(b, stackOptions{pushBody: true})
			alice := s.engine(b, "alice", "web")
			bob := s.engine(b, "bob", "laptop")
			s.subscribe(b, alice)
			s.offline(b, "alice", alice)
			if mode == "offline" {
				// The same resource takes over the hibernated session; its clean logout ends it
				// (this engine has no push registration of its own, so push stays enabled).
				again := s.engine(b, "alice", "web")
				do(b, again, "session.logout", nil)
				waitUntil(b, "alice is gone", func() bool { return !s.srv.Push().Live("alice@localhost") })
			}
			var total, worst time.Duration
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				send(b, bob, "alice@localhost", "bench "+strconv.Itoa(i))
				p, pl := s.nextPush(b)
				if pl.Body != "bench "+strconv.Itoa(i) {
					b.Fatalf("payload %+v, want message %d", pl, i)
				}
				d := p.Received.Sub(start)
				total += d
				worst = max(worst, d)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/push")
			b.ReportMetric(float64(worst.Microseconds())/1000, "ms-max")
		})
	}
}
