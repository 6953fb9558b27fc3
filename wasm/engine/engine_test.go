package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sparkweb/sparkweb/relay/server"
	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/engine"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// recorder is a tab: it keeps every message the engine emitted, in order.
type recorder struct {
	mu   sync.Mutex
	msgs []map[string]json.RawMessage
	more chan struct{}
}

func newRecorder() *recorder { return &recorder{more: make(chan struct{}, 1)} }

func (r *recorder) emit(tab string, b []byte) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		panic(fmt.Sprintf("engine emitted invalid JSON %s: %v", b, err))
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

// waitEvent waits for an event named name whose data satisfies ok and returns its data.
func (r *recorder) waitEvent(t *testing.T, name string, ok func(data json.RawMessage) bool) json.RawMessage {
	t.Helper()
	deadline := time.After(15 * time.Second)
	seen := 0
	for {
		r.mu.Lock()
		msgs := r.msgs[seen:]
		seen = len(r.msgs)
		r.mu.Unlock()
		for _, m := range msgs {
			var ev string
			_ = json.Unmarshal(m["event"], &ev)
			if ev == name && ok(m["data"]) {
				return m["data"]
			}
		}
		select {
		case <-r.more:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			var all []string
			for _, m := range r.msgs {
				b, _ := json.Marshal(m)
				all = append(all, string(b))
			}
			t.Fatalf("no %q event matched within 15s; got:\n%s", name, strings.Join(all, "\n"))
		}
	}
}

// messages returns the message events received, latest state per id, in first-seen order.
func (r *recorder) messages() []protocol.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []protocol.Message
	seen := map[string]int{}
	for _, m := range r.msgs {
		var ev string
		_ = json.Unmarshal(m["event"], &ev)
		if ev != "message" {
			continue
		}
		var msg protocol.Message
		_ = json.Unmarshal(m["data"], &msg)
		if i, ok := seen[msg.ID]; ok {
			out[i] = msg
			continue
		}
		seen[msg.ID] = len(out)
		out = append(out, msg)
	}
	return out
}

func (r *recorder) count(name string, ok func(json.RawMessage) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		var ev string
		_ = json.Unmarshal(m["event"], &ev)
		if ev == name && ok(m["data"]) {
			n++
		}
	}
	return n
}

type stack struct {
	prosody *testenv.Server
	relay   string
}

func startStackB(b *testing.B) stack {
	b.Helper()
	p := testenv.StartProsody(b, testenv.ProsodyOptions{})
	// Benchmarks reconnect hundreds of times in a row: the relay's abuse limits would throttle them.
	srv, err := server.New(context.Background(), server.Config{
		Upstream: p.WebSocketURL, Domain: p.Domain, Logger: slog.New(slog.DiscardHandler),
		Limits: server.Limits{MaxConnsPerJID: -1, MaxConnsPerIP: -1, TokenIPEvery: -1, TokenAccountEvery: -1},
	})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	return stack{prosody: p, relay: ts.URL}
}

func startStack(t *testing.T, opts testenv.ProsodyOptions) stack {
	t.Helper()
	p := testenv.StartProsody(t, opts)
	srv, err := server.New(context.Background(), server.Config{Upstream: p.WebSocketURL, Domain: p.Domain, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return stack{prosody: p, relay: ts.URL}
}

// startFriends is startStack with alice and bob (passwords alice-pw, bob-pw) in each other's roster.
func startFriends(t *testing.T, opts testenv.ProsodyOptions) stack {
	t.Helper()
	s := startStack(t, opts)
	s.prosody.AddUser(t, "alice", "alice-pw")
	s.prosody.AddUser(t, "bob", "bob-pw")
	s.prosody.Befriend(t, "alice", "bob")
	return s
}

func (s stack) engine(t *testing.T) (*engine.Engine, *recorder) {
	rec := newRecorder()
	e := engine.New(engine.Config{RelayURL: s.relay, Emit: rec.emit})
	t.Cleanup(func() { e.Do(context.Background(), req("session.logout", nil)) })
	return e, rec
}

func req(op string, args any) protocol.Request {
	raw, _ := json.Marshal(args)
	return protocol.Request{ID: json.RawMessage(`1`), Op: op, Args: raw}
}

func do(t *testing.T, e *engine.Engine, op string, args any) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp := e.Do(ctx, req(op, args))
	if !resp.OK {
		t.Fatalf("%s: %v", op, resp.Error)
	}
	b, _ := json.Marshal(resp.Result)
	return b
}

// pastPending reports whether an outgoing message event says the server has it: "sent" on its
// acknowledgement, or straight "delivered" when the peer's receipt arrives before the ack.
func pastPending(d json.RawMessage) bool {
	st := field(d, "state")
	return st == "sent" || st == "delivered"
}

func field(data json.RawMessage, key string) string {
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	s, _ := m[key].(string)
	return s
}

// TestTwoEngines runs alice's and bob's engines through the relay against a real Prosody:
// login with each SCRAM variant, roster, presence both ways, messages both ways.
func TestTwoEngines(t *testing.T) {
	for _, hash := range []string{"SHA-1", "SHA-256"} {
		t.Run("SCRAM-"+hash, func(t *testing.T) {
			s := startFriends(t, testenv.ProsodyOptions{PasswordHash: hash})
			alice, aliceTab := s.engine(t)
			bob, bobTab := s.engine(t)

			// Login binds the resource we asked for.
			res := do(t, alice, "session.login", map[string]string{"jid": "alice@localhost", "password": "alice-pw", "resource": "desk"})
			if got := field(res, "jid"); got != "alice@localhost/desk" {
				t.Fatalf("alice bound %q, want alice@localhost/desk", got)
			}
			aliceTab.waitEvent(t, "session", func(d json.RawMessage) bool { return field(d, "state") == "online" })
			if st := alice.Snapshot().Session; st.State != "online" || st.JID != "alice@localhost/desk" {
				t.Fatalf("snapshot session = %+v", st)
			}

			// The roster was fetched and holds bob.
			var roster protocol.Roster
			_ = json.Unmarshal(do(t, alice, "roster.list", nil), &roster)
			if len(roster.Items) != 1 || roster.Items[0].JID != "bob@localhost" || roster.Items[0].Subscription != "both" {
				t.Fatalf("alice's roster = %+v", roster.Items)
			}

			// Bob comes online; alice sees his presence, then his status change.
			do(t, bob, "session.login", map[string]string{"jid": "bob@localhost", "password": "bob-pw"})
			aliceTab.waitEvent(t, "presence", func(d json.RawMessage) bool {
				return field(d, "bare") == "bob@localhost" && field(d, "show") == "available"
			})
			do(t, bob, "presence.set", map[string]string{"show": "away", "status": "lunch"})
			aliceTab.waitEvent(t, "presence", func(d json.RawMessage) bool {
				return field(d, "bare") == "bob@localhost" && field(d, "show") == "away" && field(d, "status") == "lunch"
			})
			// And bob sees alice.
			bobTab.waitEvent(t, "presence", func(d json.RawMessage) bool { return field(d, "jid") == "alice@localhost/desk" })

			// Messages both ways, each reported once to the receiver and once as outgoing to the sender.
			id := field(do(t, alice, "chat.send", map[string]string{"to": "bob@localhost", "body": "hi <bob> & co"}), "id")
			got := bobTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "id") == id })
			if field(got, "body") != "hi <bob> & co" || field(got, "with") != "alice@localhost" || field(got, "from") != "alice@localhost/desk" {
				t.Fatalf("bob got %s", got)
			}
			aliceTab.waitEvent(t, "message", func(d json.RawMessage) bool {
				var m protocol.Message
				_ = json.Unmarshal(d, &m)
				return m.ID == id && m.Outgoing && m.With == "bob@localhost"
			})
			do(t, bob, "chat.send", map[string]string{"to": "alice@localhost", "body": "hello alice"})
			aliceTab.waitEvent(t, "message", func(d json.RawMessage) bool {
				return field(d, "body") == "hello alice" && field(d, "with") == "bob@localhost"
			})
			if n := bobTab.count("message", func(d json.RawMessage) bool { return field(d, "id") == id }); n != 1 {
				t.Errorf("bob saw message %s %d times, want once", id, n)
			}
			if conv := alice.Snapshot().Conversations["bob@localhost"]; len(conv) != 2 {
				t.Errorf("alice's conversation with bob has %d messages, want 2", len(conv))
			}

			// Logout ends the stream cleanly; bob sees alice go.
			do(t, alice, "session.logout", nil)
			bobTab.waitEvent(t, "presence", func(d json.RawMessage) bool {
				return field(d, "jid") == "alice@localhost/desk" && field(d, "show") == "unavailable"
			})
			if st := alice.Snapshot().Session.State; st != "offline" {
				t.Errorf("after logout alice is %q", st)
			}
			log, _ := os.ReadFile(s.prosody.Dir + "/prosody.log")
			if strings.Contains(string(log), "unsupported-stanza-type") {
				t.Errorf("prosody refused a stanza:\n%s", log)
			}
		})
	}
}

// TestLoginErrors checks the errors a user sees, each with its stable code and session state.
func TestLoginErrors(t *testing.T) {
	s := startStack(t, testenv.ProsodyOptions{})
	s.prosody.AddUser(t, "alice", "alice-pw")

	// A relay whose upstream is a closed port.
	dead := httptest.NewServer(nil)
	deadURL := strings.Replace(dead.URL, "http://", "ws://", 1) + "/xmpp-websocket"
	dead.Close()
	srv, err := server.New(context.Background(), server.Config{Upstream: deadURL, Domain: "localhost", Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	unreachable := httptest.NewServer(srv.Handler())
	defer unreachable.Close()

	tests := []struct {
		name      string
		relay     string
		args      map[string]string
		wantCode  string
		wantState string
	}{
		{"wrong password", s.relay, map[string]string{"jid": "alice@localhost", "password": "nope"}, "not-authorized", "auth-failed"},
		{"unknown user", s.relay, map[string]string{"jid": "mallory@localhost", "password": "x"}, "not-authorized", "auth-failed"},
		{"no password", s.relay, map[string]string{"jid": "alice@localhost"}, "bad-request", "offline"},
		{"bad jid", s.relay, map[string]string{"jid": "@@", "password": "x"}, "bad-request", "offline"},
		{"xmpp server unreachable", unreachable.URL, map[string]string{"jid": "alice@localhost", "password": "alice-pw"}, "server-unreachable", "offline"},
		{"relay unreachable", deadURL, map[string]string{"jid": "alice@localhost", "password": "alice-pw"}, "server-unreachable", "offline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			relay := strings.Replace(tt.relay, "ws://", "http://", 1)
			e := engine.New(engine.Config{RelayURL: relay})
			resp := e.Do(context.Background(), req("session.login", tt.args))
			if resp.OK || resp.Error == nil || resp.Error.Code != tt.wantCode {
				t.Fatalf("login = %+v, want error %q", resp, tt.wantCode)
			}
			if st := e.Snapshot().Session.State; st != tt.wantState {
				t.Errorf("state = %q, want %q", st, tt.wantState)
			}
		})
	}
}

// TestOpsNeedSession checks that ops which need the network say so instead of hanging.
func TestOpsNeedSession(t *testing.T) {
	e := engine.New(engine.Config{RelayURL: "http://127.0.0.1:1"})
	tests := []struct {
		op   string
		args any
		code string
	}{
		{"chat.send", map[string]string{"to": "bob@localhost", "body": "hi"}, "not-connected"},
		{"chat.send", map[string]string{"to": "bob@localhost", "body": ""}, "bad-request"},
		{"chat.send", map[string]string{"to": "bob@localhost", "body": strings.Repeat("x", 70000)}, "bad-request"},
		{"chat.send", map[string]any{"to": 5}, "bad-request"},
		{"presence.set", map[string]string{"show": "away"}, "not-connected"},
		{"presence.set", map[string]string{"show": "sleeping"}, "bad-request"},
		{"no.such.op", nil, "feature-not-implemented"},
	}
	for _, tt := range tests {
		resp := e.Do(context.Background(), req(tt.op, tt.args))
		if resp.OK || resp.Error.Code != tt.code {
			t.Errorf("%s %v = %+v, want %q", tt.op, tt.args, resp, tt.code)
		}
	}
}

// TestRequestJSON covers the raw entry point used by the JavaScript host.
func TestRequestJSON(t *testing.T) {
	rec := newRecorder()
	e := engine.New(engine.Config{RelayURL: "http://127.0.0.1:1", Emit: rec.emit})
	e.Request("tab1", []byte(`{"id":"a","op":"tab.attach","args":{"tab":"tab1"}}`))
	e.Request("tab1", []byte(`not json`))
	e.Request("tab1", []byte(`{"id":3,"op":"roster.list"}`))
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec.mu.Lock()
		n := len(rec.msgs)
		rec.mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.msgs) != 3 {
		t.Fatalf("got %d responses, want 3", len(rec.msgs))
	}
	want := []string{`{"id":"a","ok":true}`, `{"id":null,"ok":false}`, `{"id":3,"ok":true}`}
	for i, m := range rec.msgs {
		got := fmt.Sprintf(`{"id":%s,"ok":%s}`, m["id"], m["ok"])
		if got != want[i] {
			t.Errorf("response %d = %s, want %s", i, got, want[i])
		}
	}
	var snap protocol.Snapshot
	if err := json.Unmarshal(rec.msgs[0]["result"], &snap); err != nil || snap.Session.State != "offline" {
		t.Errorf("attach snapshot = %s (%v)", rec.msgs[0]["result"], err)
	}
}
