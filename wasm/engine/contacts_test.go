package engine_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/sparkweb/sparkweb/relay/server"
	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// rosterItem returns the item for jid in a roster event, if the event has one.
func rosterItem(d json.RawMessage, jid string) (protocol.RosterItem, bool) {
	var r protocol.Roster
	_ = json.Unmarshal(d, &r)
	for _, it := range r.Items {
		if it.JID == jid {
			return it, true
		}
	}
	return protocol.RosterItem{}, false
}

// waitRoster waits for a roster event whose item for jid satisfies ok.
func waitRoster(t *testing.T, rec *recorder, jid string, ok func(protocol.RosterItem) bool) protocol.RosterItem {
	t.Helper()
	var got protocol.RosterItem
	rec.waitEvent(t, "roster", func(d json.RawMessage) bool {
		it, found := rosterItem(d, jid)
		if found && ok(it) {
			got = it
			return true
		}
		return false
	})
	return got
}

func subscriptionEvent(jid, typ string) func(json.RawMessage) bool {
	return func(d json.RawMessage) bool { return field(d, "jid") == jid && field(d, "type") == typ }
}

// TestContacts adds, renames, regroups and removes a contact, and runs every subscription flow
// of RFC 6121 between real accounts on Prosody: request and approval, pre-approval, denial and
// cancellation, with incoming requests kept in the snapshot until answered.
func TestContacts(t *testing.T) {
	servers := []struct {
		name   string
		start  func(t *testing.T) *testenv.Server
		traits serverTraits
	}{
		{"prosody", func(t *testing.T) *testenv.Server { return testenv.StartProsody(t, testenv.ProsodyOptions{}) }, serverTraits{true, true}},
		{"ejabberd", func(t *testing.T) *testenv.Server { return testenv.StartEjabberd(t) }, serverTraits{false, false}},
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) { testContacts(t, stackOn(t, srv.start(t)), srv.traits) })
	}
}

// serverTraits are where the servers differ in what RFC 6121 leaves optional.
type serverTraits struct {
	preApproval     bool // implements pre-approval (§3.4)
	tellsWithdrawal bool // forwards an unsubscribe that withdraws a pending request
}

// stackOn puts a relay in front of an XMPP server.
func stackOn(t *testing.T, x *testenv.Server) stack {
	t.Helper()
	cfg := server.Config{Upstream: x.WebSocketURL, Domain: x.Domain, Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
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

func testContacts(t *testing.T, s stack, traits serverTraits) {
	for _, u := range []string{"alice", "bob", "carol"} {
		s.prosody.AddUser(t, u, u+"-pw")
	}
	alice, aliceTab := login(t, s, "alice", "desk")
	bob, bobTab := login(t, s, "bob", "laptop")
	carol, carolTab := login(t, s, "carol", "phone")

	// Add with a name and groups: the server's push brings it into the roster.
	do(t, alice, "roster.add", map[string]any{"jid": "bob@localhost", "name": "Bob", "groups": []string{"Friends"}})
	waitRoster(t, aliceTab, "bob@localhost", func(it protocol.RosterItem) bool {
		return it.Name == "Bob" && slices.Equal(it.Groups, []string{"Friends"}) && it.Subscription == "none" && !it.Ask
	})

	// Request → bob sees it, kept in his snapshot; approval → alice subscribed, bob's list empty.
	do(t, alice, "presence.subscribe", map[string]string{"jid": "bob@localhost", "status": "it's alice"})
	waitRoster(t, aliceTab, "bob@localhost", func(it protocol.RosterItem) bool { return it.Ask })
	got := bobTab.waitEvent(t, "subscription", subscriptionEvent("alice@localhost", "subscribe"))
	if field(got, "status") != "it's alice" {
		t.Errorf("request status = %s", got)
	}
	bobTab.waitEvent(t, "requests", func(d json.RawMessage) bool {
		var r protocol.Requests
		_ = json.Unmarshal(d, &r)
		return len(r.Items) == 1 && r.Items[0].JID == "alice@localhost"
	})
	if reqs := bob.Snapshot().Requests; len(reqs) != 1 || reqs[0].JID != "alice@localhost" || reqs[0].Type != "subscribe" {
		t.Fatalf("bob's pending requests = %+v", reqs)
	}
	do(t, bob, "presence.approve", map[string]string{"jid": "alice@localhost"})
	if reqs := bob.Snapshot().Requests; len(reqs) != 0 {
		t.Errorf("requests after approval = %+v", reqs)
	}
	aliceTab.waitEvent(t, "subscription", subscriptionEvent("bob@localhost", "subscribed"))
	waitRoster(t, aliceTab, "bob@localhost", func(it protocol.RosterItem) bool { return it.Subscription == "to" && !it.Ask })
	aliceTab.waitEvent(t, "presence", func(d json.RawMessage) bool { return field(d, "jid") == "bob@localhost/laptop" })
	waitRoster(t, bobTab, "alice@localhost", func(it protocol.RosterItem) bool { return it.Subscription == "from" })

	// Rename; then regroup, which keeps the name.
	do(t, alice, "roster.update", map[string]any{"jid": "bob@localhost", "name": "Robert"})
	waitRoster(t, aliceTab, "bob@localhost", func(it protocol.RosterItem) bool {
		return it.Name == "Robert" && slices.Equal(it.Groups, []string{"Friends"}) && it.Subscription == "to"
	})
	do(t, alice, "roster.update", map[string]any{"jid": "bob@localhost", "groups": []string{"Work", "Chess"}})
	it := waitRoster(t, aliceTab, "bob@localhost", func(it protocol.RosterItem) bool { return len(it.Groups) == 2 })
	slices.Sort(it.Groups)
	if it.Name != "Robert" || !slices.Equal(it.Groups, []string{"Chess", "Work"}) {
		t.Errorf("after regroup: %+v", it)
	}

	// Pre-approval: bob approves carol before she asks, so her request is granted by the server
	// and never reaches bob as a request.
	do(t, bob, "presence.approve", map[string]string{"jid": "carol@localhost"})
	// An IQ round trip on bob's stream: the server has handled the pre-approval before it. (Not
	// a roster set: Prosody 0.12 rebuilds the item without its pre-approval.)
	do(t, bob, "chat.history", map[string]any{"with": "carol@localhost", "limit": 1})
	do(t, carol, "presence.subscribe", map[string]string{"jid": "bob@localhost"})
	if !traits.preApproval {
		// The server ignores the pre-approval: carol's request reaches bob like any other.
		bobTab.waitEvent(t, "subscription", subscriptionEvent("carol@localhost", "subscribe"))
		do(t, bob, "presence.approve", map[string]string{"jid": "carol@localhost"})
	}
	carolTab.waitEvent(t, "subscription", subscriptionEvent("bob@localhost", "subscribed"))
	waitRoster(t, carolTab, "bob@localhost", func(it protocol.RosterItem) bool { return it.Subscription == "to" })
	if n := bobTab.count("subscription", subscriptionEvent("carol@localhost", "subscribe")); traits.preApproval && n != 0 {
		t.Errorf("bob was asked %d times despite pre-approving carol", n)
	}
	if reqs := bob.Snapshot().Requests; len(reqs) != 0 {
		t.Errorf("bob's requests after pre-approval = %+v", reqs)
	}

	// Denial: carol asks alice, alice says no; carol hears it and her request is no longer pending.
	do(t, carol, "presence.subscribe", map[string]string{"jid": "alice@localhost"})
	aliceTab.waitEvent(t, "subscription", subscriptionEvent("carol@localhost", "subscribe"))
	do(t, alice, "presence.deny", map[string]string{"jid": "carol@localhost"})
	carolTab.waitEvent(t, "subscription", subscriptionEvent("alice@localhost", "unsubscribed"))
	waitRoster(t, carolTab, "alice@localhost", func(it protocol.RosterItem) bool { return it.Subscription == "none" && !it.Ask })
	if reqs := alice.Snapshot().Requests; len(reqs) != 0 {
		t.Errorf("alice's requests after denial = %+v", reqs)
	}

	// A request withdrawn by its sender leaves the list too, where the server tells (ejabberd
	// 23.01 drops the withdrawal silently; the request then stays listed until answered).
	do(t, carol, "presence.subscribe", map[string]string{"jid": "alice@localhost"})
	aliceTab.waitEvent(t, "requests", func(d json.RawMessage) bool { return hasRequest(d, "carol@localhost") })
	if traits.tellsWithdrawal {
		do(t, carol, "presence.cancel", map[string]string{"jid": "alice@localhost"})
		aliceTab.waitEvent(t, "subscription", subscriptionEvent("carol@localhost", "unsubscribe"))
	} else {
		do(t, alice, "presence.deny", map[string]string{"jid": "carol@localhost"})
	}
	if reqs := alice.Snapshot().Requests; len(reqs) != 0 {
		t.Errorf("alice's requests after carol withdrew = %+v", reqs)
	}

	// Cancel: alice stops seeing bob's presence.
	do(t, alice, "presence.cancel", map[string]string{"jid": "bob@localhost"})
	waitRoster(t, aliceTab, "bob@localhost", func(it protocol.RosterItem) bool { return it.Subscription == "none" })
	bobTab.waitEvent(t, "subscription", subscriptionEvent("alice@localhost", "unsubscribe"))

	// Remove: gone from the roster, announced as subscription "remove".
	do(t, alice, "roster.remove", map[string]string{"jid": "bob@localhost"})
	waitRoster(t, aliceTab, "bob@localhost", func(it protocol.RosterItem) bool { return it.Subscription == "remove" })
	for _, it := range alice.Snapshot().Roster {
		if it.JID == "bob@localhost" {
			t.Errorf("bob still in alice's roster: %+v", it)
		}
	}

	// Bad input gets a clear error and changes nothing.
	tests := []struct {
		op   string
		args any
		code string
	}{
		{"roster.update", map[string]any{"jid": "nobody@localhost", "name": "x"}, "item-not-found"},
		{"roster.add", map[string]any{"jid": "@@"}, "bad-request"},
		{"roster.add", map[string]any{"jid": "dave@localhost", "groups": []string{""}}, "bad-request"},
		{"roster.add", map[string]any{"jid": "dave@localhost", "name": 7}, "bad-request"},
		{"roster.remove", map[string]any{}, "bad-request"},
		{"presence.subscribe", map[string]any{"jid": ""}, "bad-request"},
		{"presence.approve", map[string]any{"jid": "a@b@c"}, "bad-request"},
		{"presence.set", map[string]any{"idleSince": "yesterday"}, "bad-request"},
	}
	for _, tt := range tests {
		resp := alice.Do(context.Background(), req(tt.op, tt.args))
		if resp.OK || resp.Error.Code != tt.code {
			t.Errorf("%s %v = %+v, want %q", tt.op, tt.args, resp, tt.code)
		}
	}
}

func hasRequest(d json.RawMessage, jid string) bool {
	var r protocol.Requests
	_ = json.Unmarshal(d, &r)
	for _, it := range r.Items {
		if it.JID == jid {
			return true
		}
	}
	return false
}

// TestPresencePriorityIdle checks that priority and XEP-0319 idle time set by one engine reach
// the contact's engine, and that becoming active again clears the idle time.
func TestPresencePriorityIdle(t *testing.T) {
	s := startFriends(t, testenv.ProsodyOptions{})
	alice, _ := login(t, s, "alice", "desk")
	_, bobTab := login(t, s, "bob", "laptop")

	do(t, alice, "presence.set", map[string]any{"show": "away", "priority": 5, "idleSince": "2026-01-02T04:04:05+01:00"})
	got := bobTab.waitEvent(t, "presence", func(d json.RawMessage) bool {
		return field(d, "jid") == "alice@localhost/desk" && field(d, "show") == "away"
	})
	var p protocol.Presence
	_ = json.Unmarshal(got, &p)
	if p.IdleSince != "2026-01-02T03:04:05.000Z" || p.Priority != 5 {
		t.Errorf("bob sees %+v, want idle since 2026-01-02T03:04:05.000Z and priority 5", p)
	}
	do(t, alice, "presence.set", map[string]any{"show": "available"})
	got = bobTab.waitEvent(t, "presence", func(d json.RawMessage) bool {
		return field(d, "jid") == "alice@localhost/desk" && field(d, "show") == "available"
	})
	if field(got, "idleSince") != "" {
		t.Errorf("active again but bob sees %s", got)
	}
}
