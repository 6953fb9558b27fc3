package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/engine"
	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/storage"
)

// TestOfflineSendAndReload sends while the network is down, reloads the engine from its store
// (as a browser reload does), and checks the reloaded engine shows the last known state at once,
// logs in by itself with stored keys, and delivers what was typed offline exactly once, in order.
func TestOfflineSendAndReload(t *testing.T) {
	s := startFriends(t, testenv.ProsodyOptions{})
	bob, bobTab := login(t, s, "bob", "laptop")

	net := newFaultProxy(t, strings.TrimPrefix(s.relay, "http://"))
	store := storage.NewMemory()
	rec := newRecorder()
	first := engine.New(engine.Config{RelayURL: net.URL(), Emit: rec.emit, Store: store})
	do(t, first, "session.login", map[string]string{"jid": "alice@localhost", "password": "alice-pw", "resource": "web"})
	do(t, first, "chat.send", map[string]string{"to": "bob@localhost", "body": "online"})
	bobTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "body") == "online" })
	rec.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "body") == "online" && pastPending(d) })

	net.Down()
	rec.waitEvent(t, "session", func(d json.RawMessage) bool { return field(d, "state") == "reconnecting" })
	for _, body := range []string{"offline 1", "offline 2", "offline 3"} {
		do(t, first, "chat.send", map[string]string{"to": "bob@localhost", "body": body})
	}
	rec.waitEvent(t, "message", func(d json.RawMessage) bool {
		return field(d, "body") == "offline 3" && field(d, "state") == "pending"
	})
	first.Close() // the tab closes; the engine's memory is gone, the store is not

	rec2 := newRecorder()
	second := engine.New(engine.Config{RelayURL: net.URL(), Emit: rec2.emit, Store: store})
	if err := second.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Do(context.Background(), req("session.logout", nil)) })
	// Before any network: roster and conversation, with the pending messages marked.
	snap := second.Snapshot()
	if len(snap.Roster) != 1 || snap.Roster[0].JID != "bob@localhost" {
		t.Errorf("restored roster = %+v", snap.Roster)
	}
	var pending []string
	for _, m := range snap.Conversations["bob@localhost"] {
		if m.State == protocol.MessagePending {
			pending = append(pending, m.Body)
		}
	}
	if strings.Join(pending, ",") != "offline 1,offline 2,offline 3" {
		t.Errorf("restored pending messages = %q", pending)
	}
	if snap.Session.State == "online" {
		t.Errorf("restored engine claims to be online with the network down")
	}

	net.Up()
	do(t, second, "session.reconnect", nil)
	rec2.waitEvent(t, "session", func(d json.RawMessage) bool { return field(d, "state") == "online" })
	bobTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "body") == "offline 3" })
	// Roster versioning: the stored roster was current, so the server sent none and none was emitted.
	if n := rec2.count("roster", func(json.RawMessage) bool { return true }); n != 0 {
		t.Errorf("the reloaded engine emitted %d roster events; the stored roster was current", n)
	}
	rec2.waitEvent(t, "message", func(d json.RawMessage) bool {
		return field(d, "body") == "offline 3" && pastPending(d)
	})
	// Exactly once each, in order, at bob's.
	var got []string
	for _, m := range bobTab.messages() {
		if strings.HasPrefix(m.Body, "offline") {
			got = append(got, m.Body)
		}
	}
	if strings.Join(got, ",") != "offline 1,offline 2,offline 3" {
		t.Errorf("bob received %q, want each offline message once, in order", got)
	}
	// And exactly once on the server: the archive keeps every copy it was given.
	var h protocol.History
	_ = json.Unmarshal(do(t, bob, "chat.history", map[string]any{"with": "alice@localhost", "limit": 50}), &h)
	got = got[:0]
	for _, m := range h.Messages {
		got = append(got, m.Body)
	}
	if strings.Join(got, ",") != "online,offline 1,offline 2,offline 3" {
		t.Errorf("archive holds %q", got)
	}
	second.Sync()
	if left, _ := store.List(context.Background(), "outbox/"); len(left) != 0 {
		t.Errorf("outbox still holds %d entries after delivery", len(left))
	}
}

// TestStaleKeysAskForPassword checks that a silent login with keys the server no longer
// accepts ends in auth-failed, not in an endless reconnect loop.
func TestStaleKeysAskForPassword(t *testing.T) {
	s := startFriends(t, testenv.ProsodyOptions{})
	store := storage.NewMemory()
	first := engine.New(engine.Config{RelayURL: s.relay, Store: store})
	do(t, first, "session.login", map[string]string{"jid": "alice@localhost", "password": "alice-pw"})
	first.Close()
	s.prosody.SetPassword(t, "alice", "new-password") // the password changes elsewhere

	rec := newRecorder()
	second := engine.New(engine.Config{RelayURL: s.relay, Emit: rec.emit, Store: store})
	t.Cleanup(second.Close)
	if err := second.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := rec.waitEvent(t, "session", func(d json.RawMessage) bool {
		st := field(d, "state")
		return st == "auth-failed" || st == "online"
	})
	if field(got, "state") != "auth-failed" {
		t.Fatalf("silent login with stale keys: %s", got)
	}

	// A message written before the user types the new password is kept: signing in again as the
	// same account (with a new resource) must not wipe the outbox, and it goes out once.
	_, bobTab := login(t, s, "bob", "phone")
	id := field(do(t, second, "chat.send", map[string]string{"to": "bob@localhost", "body": "written while signed out"}), "id")
	do(t, second, "session.login", map[string]string{"jid": "alice@localhost", "password": "new-password"})
	waitMessage(t, bobTab, id, func(m protocol.Message) bool { return m.Body == "written while signed out" })
}
