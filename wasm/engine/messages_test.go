package engine_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/engine"
	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

func asMessage(d json.RawMessage) protocol.Message {
	var m protocol.Message
	_ = json.Unmarshal(d, &m)
	return m
}

// waitMessage waits for a message event with id whose message satisfies ok.
func waitMessage(t *testing.T, rec *recorder, id string, ok func(protocol.Message) bool) protocol.Message {
	t.Helper()
	return asMessage(rec.waitEvent(t, "message", func(d json.RawMessage) bool {
		m := asMessage(d)
		return m.ID == id && ok(m)
	}))
}

func convMessage(t *testing.T, conv []protocol.Message, id string) protocol.Message {
	t.Helper()
	var found []protocol.Message
	for _, m := range conv {
		if m.ID == id {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("conversation holds message %s %d times: %+v", id, len(found), conv)
	}
	return found[0]
}

// rawClient logs in to Prosody directly, without an engine, to send stanzas no engine would:
// forged corrections and retractions, malformed extensions.
func rawClient(t *testing.T, s stack, user string) *xmpp.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := xmppws.Dial(ctx, s.prosody.WebSocketURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := xmppws.Login(ctx, conn, xmppws.LoginConfig{JID: jid.MustParse(user + "@localhost/raw"), Password: user + "-pw", AllowPlain: true})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = sess.Serve(nil) }()
	t.Cleanup(func() { _ = sess.Close(); _ = conn.Close() })
	return sess
}

func sendRaw(t *testing.T, sess *xmpp.Session, stanza string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sess.Send(ctx, xml.NewDecoder(strings.NewReader(stanza))); err != nil {
		t.Fatal(err)
	}
}

// TestMessageExtensions runs every message extension between two engines on Prosody: styling,
// receipts, displayed markers, chat states, replies, corrections, reactions, retractions and
// error replies, and checks that only a message's author can correct or retract it.
func TestMessageExtensions(t *testing.T) {
	for _, srv := range []struct {
		name  string
		start func(t *testing.T) *testenv.Server
	}{
		{"prosody", func(t *testing.T) *testenv.Server { return testenv.StartProsody(t, testenv.ProsodyOptions{}) }},
		{"ejabberd", func(t *testing.T) *testenv.Server { return testenv.StartEjabberd(t) }},
	} {
		t.Run(srv.name, func(t *testing.T) {
			x := srv.start(t)
			x.AddUser(t, "alice", "alice-pw")
			x.AddUser(t, "bob", "bob-pw")
			x.Befriend(t, "alice", "bob")
			testMessageExtensions(t, stackOn(t, x))
		})
	}
}

func testMessageExtensions(t *testing.T, s stack) {
	alice, aliceTab := login(t, s, "alice", "desk")
	bob, bobTab := login(t, s, "bob", "laptop")
	bobTab.waitEvent(t, "presence", func(d json.RawMessage) bool { return field(d, "jid") == "alice@localhost/desk" })

	// Styling: parsed for both sides into spans, never markup.
	id := field(do(t, alice, "chat.send", map[string]string{"to": "bob@localhost", "body": "hello *world* <b>"}), "id")
	got := waitMessage(t, bobTab, id, func(protocol.Message) bool { return true })
	if len(got.Styled) != 5 || got.Styled[2].Text != "world" || got.Styled[2].Kinds[0] != "strong" || got.Styled[4].Text != " <b>" {
		t.Errorf("bob's styled spans = %+v", got.Styled)
	}

	// Receipt: bob's engine answers the request; alice's message becomes delivered.
	r := aliceTab.waitEvent(t, "receipt", func(d json.RawMessage) bool { return field(d, "id") == id })
	if field(r, "from") != "bob@localhost/laptop" || field(r, "with") != "bob@localhost" {
		t.Errorf("receipt = %s", r)
	}
	waitMessage(t, aliceTab, id, func(m protocol.Message) bool { return m.State == "delivered" })

	// Displayed: a marker on the second message marks both read, for alice; a late server ack
	// never steps a message back.
	id2 := field(do(t, alice, "chat.send", map[string]string{"to": "bob@localhost", "body": "second"}), "id")
	waitMessage(t, bobTab, id2, func(protocol.Message) bool { return true })
	waitMessage(t, aliceTab, id2, func(m protocol.Message) bool { return m.State == "delivered" })
	do(t, bob, "chat.displayed", map[string]string{"with": "alice@localhost", "id": id2})
	bobTab.waitEvent(t, "displayed", func(d json.RawMessage) bool {
		return field(d, "id") == id2 && strings.Contains(string(d), `"outgoing":true`)
	})
	aliceTab.waitEvent(t, "displayed", func(d json.RawMessage) bool {
		return field(d, "id") == id2 && field(d, "from") == "bob@localhost/laptop"
	})
	for _, want := range []string{id, id2} {
		if m := convMessage(t, alice.Snapshot().Conversations["bob@localhost"], want); m.State != "read" {
			t.Errorf("after the marker alice's %q is %q, want read", m.Body, m.State)
		}
	}

	// Chat state.
	do(t, alice, "chat.state", map[string]string{"to": "bob@localhost", "state": "composing"})
	bobTab.waitEvent(t, "chatstate", func(d json.RawMessage) bool {
		return field(d, "from") == "alice@localhost/desk" && field(d, "with") == "alice@localhost" && field(d, "state") == "composing"
	})

	// Reply.
	rid := field(do(t, bob, "chat.send", map[string]any{"to": "alice@localhost", "body": "yes?", "replyTo": map[string]string{"id": id, "to": "alice@localhost"}}), "id")
	reply := waitMessage(t, aliceTab, rid, func(protocol.Message) bool { return true })
	if reply.ReplyTo == nil || reply.ReplyTo.ID != id || reply.ReplyTo.To != "alice@localhost" || reply.Body != "yes?" {
		t.Errorf("reply = %+v", reply)
	}

	// Correction: the same message, new body, for both sides; one message, not two.
	do(t, alice, "chat.correct", map[string]string{"to": "bob@localhost", "id": id, "body": "hello _there_"})
	fixed := waitMessage(t, bobTab, id, func(m protocol.Message) bool { return m.CorrectedAt != "" })
	if fixed.Body != "hello _there_" || len(fixed.Styled) == 0 || fixed.From != "alice@localhost/desk" {
		t.Errorf("corrected = %+v", fixed)
	}
	if m := convMessage(t, bob.Snapshot().Conversations["alice@localhost"], id); m.Body != "hello _there_" {
		t.Errorf("bob's conversation holds %q", m.Body)
	}
	if m := convMessage(t, alice.Snapshot().Conversations["bob@localhost"], id); m.Body != "hello _there_" || m.CorrectedAt == "" {
		t.Errorf("alice's own copy = %+v", m)
	}

	// Reactions: set, then cleared with an empty list.
	do(t, bob, "chat.react", map[string]any{"to": "alice@localhost", "id": id, "reactions": []string{"👍", "🎉"}})
	reacted := waitMessage(t, aliceTab, id, func(m protocol.Message) bool { return len(m.Reactions) > 0 })
	if got := reacted.Reactions["bob@localhost"]; len(got) != 2 || got[0] != "👍" {
		t.Errorf("reactions = %+v", reacted.Reactions)
	}
	do(t, bob, "chat.react", map[string]any{"to": "alice@localhost", "id": id, "reactions": []string{}})
	waitMessage(t, aliceTab, id, func(m protocol.Message) bool { return len(m.Reactions) == 0 && m.CorrectedAt != "" })

	// Only the author may correct or retract: the engine refuses, and a forged stanza from bob's
	// own client is ignored by alice's engine.
	for _, op := range []string{"chat.correct", "chat.retract"} {
		resp := bob.Do(context.Background(), req(op, map[string]string{"to": "alice@localhost", "id": id, "body": "evil"}))
		if resp.OK || resp.Error.Code != "forbidden" {
			t.Errorf("bob's %s of alice's message = %+v, want forbidden", op, resp)
		}
	}
	raw := rawClient(t, s, "bob")
	sendRaw(t, raw, `<message xmlns="jabber:client" to="alice@localhost" type="chat" id="forged1"><body>evil</body><replace xmlns="urn:xmpp:message-correct:0" id="`+id+`"/></message>`)
	sendRaw(t, raw, `<message xmlns="jabber:client" to="alice@localhost" type="chat" id="forged2"><retract xmlns="urn:xmpp:message-retract:1" id="`+id+`"/><body>x</body></message>`)
	sendRaw(t, raw, `<message xmlns="jabber:client" to="alice@localhost" type="chat" id="after"><body>after forgery</body></message>`)
	waitMessage(t, aliceTab, "after", func(protocol.Message) bool { return true })
	if m := convMessage(t, alice.Snapshot().Conversations["bob@localhost"], id); m.Body != "hello _there_" || m.Retracted {
		t.Errorf("forged edit applied: %+v", m)
	}

	// A correction of a message not known yet stands in for it, so the original never shows
	// unedited when it arrives later (e.g. from the archive).
	sendRaw(t, raw, `<message xmlns="jabber:client" to="alice@localhost" type="chat" id="c2"><body>new text</body><replace xmlns="urn:xmpp:message-correct:0" id="unseen"/></message>`)
	sendRaw(t, raw, `<message xmlns="jabber:client" to="alice@localhost" type="chat" id="unseen"><body>old text</body></message>`)
	sendRaw(t, raw, `<message xmlns="jabber:client" to="alice@localhost" type="chat" id="after2"><body>after</body></message>`)
	waitMessage(t, aliceTab, "after2", func(protocol.Message) bool { return true })
	if m := convMessage(t, alice.Snapshot().Conversations["bob@localhost"], "unseen"); m.Body != "new text" || m.CorrectedAt == "" {
		t.Errorf("early correction = %+v", m)
	}

	// Retraction by the author: body gone on both sides.
	do(t, alice, "chat.retract", map[string]string{"to": "bob@localhost", "id": id})
	gone := waitMessage(t, bobTab, id, func(m protocol.Message) bool { return m.Retracted })
	if gone.Body != "" || gone.Styled != nil {
		t.Errorf("retracted = %+v", gone)
	}
	if resp := alice.Do(context.Background(), req("chat.correct", map[string]string{"to": "bob@localhost", "id": id, "body": "undo"})); resp.OK {
		t.Errorf("correcting a retracted message succeeded")
	}

	// Error reply: a message to an account that does not exist comes back as an error, on it.
	eid := field(do(t, alice, "chat.send", map[string]string{"to": "nobody@localhost", "body": "anyone?"}), "id")
	failed := waitMessage(t, aliceTab, eid, func(m protocol.Message) bool { return m.State == "error" })
	if failed.Error == nil || failed.Error.Code != "service-unavailable" {
		t.Errorf("failed message = %+v", failed)
	}

	// Bad input.
	tests := []struct {
		op   string
		args any
		code string
	}{
		{"chat.correct", map[string]string{"to": "bob@localhost", "id": "nope", "body": "x"}, "item-not-found"},
		{"chat.correct", map[string]string{"to": "bob@localhost", "id": id2, "body": ""}, "bad-request"},
		{"chat.retract", map[string]string{"to": "bob@localhost"}, "bad-request"},
		{"chat.react", map[string]any{"to": "bob@localhost", "id": id2, "reactions": []string{strings.Repeat("x", 100)}}, "bad-request"},
		{"chat.react", map[string]any{"to": "bob@localhost", "id": id2, "reactions": make([]string, 21)}, "bad-request"},
		{"chat.state", map[string]string{"to": "bob@localhost", "state": "dancing"}, "bad-request"},
		{"chat.displayed", map[string]string{"with": "bob@localhost"}, "bad-request"},
		{"chat.send", map[string]any{"to": "bob@localhost", "body": "x", "replyTo": map[string]string{"to": "bob@localhost"}}, "bad-request"},
	}
	for _, tt := range tests {
		resp := alice.Do(context.Background(), req(tt.op, tt.args))
		if resp.OK || resp.Error.Code != tt.code {
			t.Errorf("%s %v = %+v, want %q", tt.op, tt.args, resp, tt.code)
		}
	}
}

// TestEditsGoThroughOutbox corrects, reacts to and marks a message while the network is down:
// each is kept and shown at once, and reaches the peer once the session is back.
func TestEditsGoThroughOutbox(t *testing.T) {
	s := startFriends(t, testenv.ProsodyOptions{})
	_, bobTab := login(t, s, "bob", "laptop")
	net := newFaultProxy(t, strings.TrimPrefix(s.relay, "http://"))
	rec := newRecorder()
	alice := newEngineAt(t, net.URL(), rec)
	do(t, alice, "session.login", map[string]string{"jid": "alice@localhost", "password": "alice-pw", "resource": "web"})
	id := field(do(t, alice, "chat.send", map[string]string{"to": "bob@localhost", "body": "tpyo"}), "id")
	waitMessage(t, bobTab, id, func(protocol.Message) bool { return true })
	waitMessage(t, rec, id, func(m protocol.Message) bool { return m.State == "delivered" })

	net.Down()
	rec.waitEvent(t, "session", func(d json.RawMessage) bool { return field(d, "state") == "reconnecting" })
	do(t, alice, "chat.correct", map[string]string{"to": "bob@localhost", "id": id, "body": "typo"})
	do(t, alice, "chat.react", map[string]any{"to": "bob@localhost", "id": id, "reactions": []string{"🙈"}})
	if m := convMessage(t, alice.Snapshot().Conversations["bob@localhost"], id); m.Body != "typo" || len(m.Reactions["alice@localhost"]) != 1 {
		t.Errorf("offline edits not shown at once: %+v", m)
	}
	net.Up()
	do(t, alice, "session.reconnect", nil)
	waitMessage(t, bobTab, id, func(m protocol.Message) bool { return m.Body == "typo" && len(m.Reactions["alice@localhost"]) == 1 })
	if m := convMessage(t, alice.Snapshot().Conversations["bob@localhost"], id); m.State != "delivered" {
		t.Errorf("the edits changed the state of the message: %+v", m)
	}
}

func newEngineAt(t *testing.T, relay string, rec *recorder) *engine.Engine {
	e := engine.New(engine.Config{RelayURL: relay, Emit: rec.emit})
	t.Cleanup(func() { e.Do(context.Background(), req("session.logout", nil)) })
	return e
}
