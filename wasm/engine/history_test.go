package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/engine"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

func login(t *testing.T, s stack, user, resource string) (*engine.Engine, *recorder) {
	t.Helper()
	e, rec := s.engine(t)
	do(t, e, "session.login", map[string]string{"jid": user + "@localhost", "password": user + "-pw", "resource": resource})
	return e, rec
}

// TestCarbonsHistoryCatchUp checks that messages reach every client of an account (carbons),
// that chat.history pages back through the archive in order, and that a client logging in later
// catches up from the archive with each message exactly once.
func TestCarbonsHistoryCatchUp(t *testing.T) {
	s := startFriends(t, testenv.ProsodyOptions{})
	desk, deskTab := login(t, s, "alice", "desk")
	_, phoneTab := login(t, s, "alice", "phone")
	bob, bobTab := login(t, s, "bob", "laptop")

	// Sent from desk: bob receives it, and phone sees it as outgoing through a sent carbon.
	id := field(do(t, desk, "chat.send", map[string]string{"to": "bob@localhost", "body": "from desk"}), "id")
	bobTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "id") == id })
	phoneTab.waitEvent(t, "message", func(d json.RawMessage) bool {
		var m protocol.Message
		_ = json.Unmarshal(d, &m)
		return m.ID == id && m.Outgoing && m.With == "bob@localhost" && m.From == "alice@localhost/desk"
	})

	// Five more from bob, to the bare JID.
	for i := range 5 {
		do(t, bob, "chat.send", map[string]string{"to": "alice@localhost", "body": fmt.Sprintf("bob %d", i)})
	}
	phoneTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "body") == "bob 4" })

	// History pages back two at a time and ends complete, oldest first, no duplicates.
	var all []protocol.Message
	before := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("history never completed")
		}
		var h protocol.History
		_ = json.Unmarshal(do(t, bob, "chat.history", map[string]any{"with": "alice@localhost", "before": before, "limit": 2}), &h)
		all = append(append([]protocol.Message(nil), h.Messages...), all...)
		if h.Complete {
			break
		}
		if len(h.Messages) == 0 || h.Messages[0].StanzaID == "" {
			t.Fatalf("page %d without a cursor: %+v", page, h)
		}
		before = h.Messages[0].StanzaID
	}
	want := []string{"from desk", "bob 0", "bob 1", "bob 2", "bob 3", "bob 4"}
	if len(all) != len(want) {
		t.Fatalf("history has %d messages, want %d: %+v", len(all), len(want), all)
	}
	for i, m := range all {
		if m.Body != want[i] {
			t.Errorf("history[%d] = %q, want %q", i, m.Body, want[i])
		}
	}
	if all[0].Outgoing || all[0].With != "alice@localhost" {
		t.Errorf("bob's view of alice's message: %+v", all[0])
	}

	// Desk sends again, then the server restarts, so the stream cannot be resumed: catching up
	// from the last archive id after a fresh login brings back desk's own message, which must be
	// recognised (origin-id), not repeated.
	again := field(do(t, desk, "chat.send", map[string]string{"to": "bob@localhost", "body": "desk again"}), "id")
	bobTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "id") == again })
	deskTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "id") == again && pastPending(d) })
	online := deskTab.count("session", func(d json.RawMessage) bool { return field(d, "state") == "online" })
	s.prosody.Restart(t)
	waitFor(t, func() bool {
		desk.Do(context.Background(), req("session.reconnect", nil))
		return deskTab.count("session", func(d json.RawMessage) bool { return field(d, "state") == "online" }) > online
	})
	waitFor(t, func() bool {
		for _, m := range desk.Snapshot().Conversations["bob@localhost"] {
			if m.ID == again && m.StanzaID != "" {
				return true // the archive's copy was matched to ours and taught us its archive id
			}
		}
		return false
	})
	// Once per state (pending, sent when the server had it, delivered on bob's receipt); never again.
	for _, st := range []string{"pending", "sent", "delivered"} {
		if n := deskTab.count("message", func(d json.RawMessage) bool { return field(d, "id") == again && field(d, "state") == st }); n > 1 {
			t.Errorf("desk's own message reached its tab %d times as %s, want once", n, st)
		}
	}
	if n := deskTab.count("message", func(d json.RawMessage) bool { return field(d, "id") == again }); n < 2 {
		t.Errorf("desk's own message reached its tab %d times, want pending, then sent or delivered", n)
	}
	want = append(want, "desk again")

	// A client that logs in now catches up: the whole conversation, once each, in order.
	late, lateTab := login(t, s, "alice", "tablet")
	lateTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "body") == "desk again" })
	conv := late.Snapshot().Conversations["bob@localhost"]
	if len(conv) != len(want) {
		t.Fatalf("caught-up conversation has %d messages, want %d: %+v", len(conv), len(want), conv)
	}
	for i, m := range conv {
		if m.Body != want[i] || m.StanzaID == "" {
			t.Errorf("conversation[%d] = %+v, want body %q with an archive id", i, m, want[i])
		}
		if n := lateTab.count("message", func(d json.RawMessage) bool { return field(d, "id") == m.ID }); n != 1 {
			t.Errorf("message %q reached the tab %d times, want once", m.Body, n)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
