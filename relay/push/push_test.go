package push

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/store"
	"github.com/sparkweb/sparkweb/testenv/pushservice"
)

const (
	goodP256 = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
	goodAuth = "tBHItJI5svbpez7KI4CCXg"
)

func TestValidEndpoint(t *testing.T) {
	tests := []struct {
		url      string
		loopback bool
		ok       bool
	}{
		{"https://fcm.googleapis.com/fcm/send/abc:def", false, true},
		{"https://updates.push.services.mozilla.com/wpush/v2/gAAA", false, true},
		{"https://web.push.apple.com:443/QGx", false, true},
		{"http://fcm.googleapis.com/fcm/send/abc", false, false},   // not https
		{"https://fcm.googleapis.com:8443/x", false, false},        // not 443
		{"https://127.0.0.1/x", false, false},                      // loopback
		{"https://10.0.0.8/x", false, false},                       // private
		{"https://169.254.169.254/latest/meta-data", false, false}, // cloud metadata
		{"https://[::1]/x", false, false},                          // IPv6 loopback
		{"https://[::ffff:127.0.0.1]/x", false, false},             // mapped loopback
		{"https://[64:ff9b::a00:1]/x", false, false},               // NAT64 of 10.0.0.1
		{"https://localhost/x", false, false},                      // names
		{"https://intranet/x", false, false},                       // single-label name
		{"https://user:pw@fcm.googleapis.com/x", false, false},     // userinfo
		{"https://fcm.googleapis.com/x#frag", false, false},        // fragment
		{"/relative", false, false},                                // not absolute
		{"https://fcm.googleapis.com/" + strings.Repeat("a", 2100), false, false},
		{"", false, false},
		{"http://127.0.0.1:8080/push/1", true, true}, // test mode: loopback http
		{"http://10.0.0.8:8080/push/1", true, false}, // test mode is loopback only
		{"http://example.com:8080/push/1", true, false},
	}
	for _, tt := range tests {
		_, err := validEndpoint(tt.url, tt.loopback)
		if (err == nil) != tt.ok {
			t.Errorf("validEndpoint(%.60q, loopback=%v) = %v, want ok=%v", tt.url, tt.loopback, err, tt.ok)
		}
	}
}

func TestValidKeys(t *testing.T) {
	tests := []struct {
		name, p256dh, auth, want string
	}{
		{"good", goodP256, goodAuth, ""},
		{"padded standard base64", strings.NewReplacer("-", "+", "_", "/").Replace(goodP256) + "=", goodAuth + "==", ""},
		{"not base64", "!!!", goodAuth, "p256dh: not base64url"},
		{"not on the curve", "BA" + strings.Repeat("A", 85), goodAuth, "not an uncompressed P-256 point"},
		{"short auth", goodP256, "AAAA", "auth: 3 bytes, want 16"},
		{"huge", strings.Repeat("A", 200), goodAuth, "too long"},
	}
	for _, tt := range tests {
		err := validKeys(tt.p256dh, tt.auth)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: validKeys = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{"8.8.8.8": true, "2606:4700::1": true, "100.64.1.1": false, "0.1.2.3": false,
		"192.168.1.1": false, "fd00::1": false, "224.0.0.1": false, "255.255.255.255": false, "::": false} {
		if got := public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("public(%s) = %v, want %v", addr, got, want)
		}
	}
}

// fakeVerifier stands in for the relay's token authority: "alice-token" is alice's.
type fakeVerifier struct{}

func (fakeVerifier) Verify(raw string) (jid.JID, error) {
	if user, ok := strings.CutSuffix(raw, "-token"); ok {
		return jid.MustParse(user + "@localhost"), nil
	}
	return jid.JID{}, errors.New("bad token")
}

func newTestService(t *testing.T, cfg Config) *Service {
	t.Helper()
	cfg.Domain, cfg.Verifier = "localhost", fakeVerifier{}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAPI(t *testing.T) {
	s := newTestService(t, Config{MaxSubscriptions: 2})
	h := s.Handler()
	call := func(method, path, token, body string) (int, map[string]any) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var out map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out
	}
	sub := func(endpoint string) string {
		return `{"endpoint":"` + endpoint + `","expirationTime":null,"keys":{"p256dh":"` + goodP256 + `","auth":"` + goodAuth + `"}}`
	}
	if code, out := call("GET", "/api/push/vapid", "", ""); code != 200 || out["publicKey"] != s.PublicKey() || len(s.PublicKey()) != 87 {
		t.Fatalf("vapid: %d %v", code, out)
	}
	tests := []struct {
		name, method, token, body string
		status                    int
		errCode                   string
	}{
		{"no token", "POST", "", sub("https://fcm.googleapis.com/a"), 401, "invalid_token"},
		{"bad token", "POST", "nope", sub("https://fcm.googleapis.com/a"), 401, "invalid_token"},
		{"not JSON", "POST", "alice-token", "endpoint=x", 400, "invalid_request"},
		{"SSRF", "POST", "alice-token", sub("https://169.254.169.254/latest"), 400, "invalid_request"},
		{"no keys", "POST", "alice-token", `{"endpoint":"https://fcm.googleapis.com/a"}`, 400, "invalid_request"},
		{"too big", "POST", "alice-token", `{"endpoint":"` + strings.Repeat("a", 9000) + `"}`, 413, "invalid_request"},
		{"wrong method", "PUT", "alice-token", "{}", 405, "invalid_request"},
		{"unknown delete", "DELETE", "alice-token", `{"endpoint":"https://fcm.googleapis.com/zzz"}`, 404, "not_found"},
		{"delete without endpoint", "DELETE", "alice-token", `{}`, 400, "invalid_request"},
	}
	for _, tt := range tests {
		code, out := call(tt.method, "/api/push/subscriptions", tt.token, tt.body)
		if code != tt.status || out["error"] != tt.errCode {
			t.Errorf("%s: %d %v, want %d %s", tt.name, code, out, tt.status, tt.errCode)
		}
	}

	// Three devices with a cap of two: one node for the account, the oldest evicted.
	var nodes []any
	for _, e := range []string{"https://fcm.googleapis.com/1", "https://fcm.googleapis.com/2", "https://fcm.googleapis.com/3"} {
		code, out := call("POST", "/api/push/subscriptions", "alice-token", sub(e))
		if code != 201 || out["service"] != "push.localhost" || out["secret"] == "" {
			t.Fatalf("subscribe %s: %d %v", e, code, out)
		}
		nodes = append(nodes, out["node"])
	}
	if nodes[0] != nodes[1] || nodes[1] != nodes[2] {
		t.Errorf("nodes %v: want one per account", nodes)
	}
	reg, err := s.cfg.Store.PushByNode(nodes[0].(string))
	if err != nil || len(reg.Subscriptions) != 2 || reg.Subscriptions[0].Endpoint != "https://fcm.googleapis.com/2" {
		t.Fatalf("registration %+v %v: want devices 2 and 3", reg, err)
	}
	// Bob cannot remove alice's subscription; alice can, and learns how many remain.
	if code, _ := call("DELETE", "/api/push/subscriptions", "bob-token", `{"endpoint":"https://fcm.googleapis.com/2"}`); code != 404 {
		t.Errorf("bob deleting alice's subscription: %d, want 404", code)
	}
	if code, out := call("DELETE", "/api/push/subscriptions", "alice-token", `{"endpoint":"https://fcm.googleapis.com/2"}`); code != 200 || out["remaining"] != 1.0 {
		t.Errorf("delete: %d %v, want 200 remaining 1", code, out)
	}
}

func TestHandleIQ(t *testing.T) {
	// Live: a good publication is suppressed, so nothing leaves for the (fake) endpoint.
	s := newTestService(t, Config{Live: func(string) bool { return true }})
	reg, _, _ := s.cfg.Store.PushSubscribe("alice@localhost", store.PushSubscription{Endpoint: "https://fcm.googleapis.com/1"}, 0, func() (string, string) { return "n1", "s3cret" })
	publish := func(from, node, secret, form string) string {
		opts := ""
		if secret != "" {
			opts = `<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>` + formPublishOpts + `</value></field><field var='secret'><value>` + secret + `</value></field></x></publish-options>`
		}
		return `<iq type='set' id='p1' from='` + from + `' to='push.localhost'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='` + node + `'><item><notification xmlns='urn:xmpp:push:0'>` + form + `</notification></item></publish>` + opts + `</pubsub></iq>`
	}
	summaryForm := `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field><field var='message-count'><value>1</value></field><field var='last-message-body'><value>hi</value></field></x>`
	tests := []struct {
		name, stanza, want string
	}{
		{"good", publish("localhost", reg.Node, "s3cret", summaryForm), "type='result' id='p1'"},
		{"unknown node", publish("localhost", "nope", "s3cret", summaryForm), "<item-not-found"},
		{"wrong secret", publish("localhost", reg.Node, "guess", summaryForm), "<forbidden"},
		{"no secret", publish("localhost", reg.Node, "", summaryForm), "<forbidden"},
		{"other server", publish("evil.example", reg.Node, "s3cret", summaryForm), "<forbidden"},
		{"no node", publish("localhost", "", "s3cret", summaryForm), "<bad-request"},
		{"disco", `<iq type='get' id='d1' from='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, "type='pubsub' type='push'"},
		{"other get", `<iq type='get' id='v1' from='localhost'><query xmlns='jabber:iq:version'/></iq>`, "<service-unavailable"},
		{"result ignored", `<iq type='result' id='r1' from='localhost'/>`, ""},
	}
	defer func() {
		if n := s.Stats().Suppressed.Load(); n != 1 {
			t.Errorf("suppressed = %d, want 1 (the good publication)", n)
		}
	}()
	for _, tt := range tests {
		var iq iqStanza
		if err := xml.Unmarshal([]byte(tt.stanza), &iq); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := s.handleIQ(context.Background(), &iq)
		if (tt.want == "") != (got == "") || !strings.Contains(got, strings.ReplaceAll(tt.want, "type='pubsub' ", "category='pubsub' ")) {
			t.Errorf("%s: reply %q, want one containing %q", tt.name, got, tt.want)
		}
	}
}

func TestSummary(t *testing.T) {
	form := func(fields ...string) *dataForm {
		f := &dataForm{}
		for i := 0; i < len(fields); i += 2 {
			f.Fields = append(f.Fields, struct {
				Var    string   `xml:"var,attr"`
				Values []string `xml:"value"`
			}{fields[i], []string{fields[i+1]}})
		}
		return f
	}
	tests := []struct {
		name string
		form *dataForm
		want *Notification
	}{
		{"empty notification (ejabberd hibernation)", &dataForm{}, nil},
		{"no form", nil, nil},
		{"count only (Prosody unimportant)", form("message-count", "1"), nil},
		{"sender without body", form("message-count", "1", "last-message-sender", "bob@localhost/x"), nil},
		{"full", form("message-count", "3", "last-message-sender", "bob@localhost/x", "last-message-body", "hi"), &Notification{Count: 3, Sender: "bob@localhost", Body: "hi"}},
		{"ejabberd: no count", form("last-message-sender", "bob@localhost", "last-message-body", "New Message!"), &Notification{Count: 1, Sender: "bob@localhost", Body: "New Message!"}},
		{"bad count", form("message-count", "-2", "last-message-body", "x"), &Notification{Count: 1, Body: "x"}},
	}
	for _, tt := range tests {
		got := summary(tt.form)
		if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
			t.Errorf("%s: summary = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestPayloadAndTopic(t *testing.T) {
	long := strings.Repeat("é", 5000)
	b := encodePayload(&Notification{Count: 1, Sender: "bob@localhost", Body: long})
	var p Payload
	if err := json.Unmarshal(b, &p); err != nil || len(b) > maxPayload || !strings.HasSuffix(p.Body, "…") || p.From != "bob@localhost" {
		t.Errorf("long body: %d bytes, %v, %q…", len(b), err, p.Body[:10])
	}
	if b := encodePayload(&Notification{Count: 2, Body: "<b>&</b>"}); string(b) != `{"type":"message","body":"<b>&</b>","count":2}` {
		t.Errorf("payload = %s", b)
	}
	a, c := topicFor("bob@localhost"), topicFor("carol@localhost")
	if len(a) != 32 || a == c || strings.ContainsAny(a, "+/=") {
		t.Errorf("topics %q %q: want distinct 32-character base64url", a, c)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{"120": 2 * time.Minute, "": time.Minute, "junk": time.Minute,
		"999999": time.Hour, "0": time.Second, now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

// TestBackoff429: after a 429 with Retry-After, pushes to that push service wait.
func TestBackoff429(t *testing.T) {
	ps := pushservice.Start(t)
	s := newTestService(t, Config{AllowLoopbackHTTP: true})
	sub, err := ps.Subscribe(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	ps.Respond(sub, http.StatusTooManyRequests, "120")
	stored := store.PushSubscription{Endpoint: sub.Endpoint, P256DH: sub.P256DH, Auth: sub.Auth}
	s.send(context.Background(), "alice@localhost", stored, []byte(`{}`), "t")
	s.send(context.Background(), "alice@localhost", stored, []byte(`{}`), "t")
	if n := ps.Requests(sub); n != 1 {
		t.Errorf("push service got %d requests, want 1 (the second waits for Retry-After)", n)
	}
	if n := s.Stats().FailedCount("rate_limited"); n != 2 {
		t.Errorf("rate_limited = %d, want 2", n)
	}
	if r := ps.Rejected(); len(r) > 0 {
		t.Errorf("push service rejected: %v", r)
	}
}
