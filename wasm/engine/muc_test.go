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
	"github.com/sparkweb/sparkweb/wasm/storage"
)

const room1 = "room1@conference.localhost"

func asRoom(d json.RawMessage) protocol.Room {
	var r protocol.Room
	_ = json.Unmarshal(d, &r)
	return r
}

func asOccupant(d json.RawMessage) protocol.Occupant {
	var o protocol.Occupant
	_ = json.Unmarshal(d, &o)
	return o
}

// waitRoom waits for a room event of room that satisfies ok.
func waitRoom(t *testing.T, rec *recorder, room string, ok func(protocol.Room) bool) protocol.Room {
	t.Helper()
	return asRoom(rec.waitEvent(t, "room", func(d json.RawMessage) bool { r := asRoom(d); return r.JID == room && ok(r) }))
}

func waitOccupant(t *testing.T, rec *recorder, room string, ok func(protocol.Occupant) bool) protocol.Occupant {
	t.Helper()
	return asOccupant(rec.waitEvent(t, "occupant", func(d json.RawMessage) bool { o := asOccupant(d); return o.Room == room && ok(o) }))
}

// doErr runs an op that must fail and returns its error code.
func doErr(t *testing.T, e *engine.Engine, op string, args any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	resp := e.Do(ctx, req(op, args))
	if resp.OK {
		t.Fatalf("%s %v succeeded, want an error", op, args)
	}
	return resp.Error.Code
}

func joinRoom(t *testing.T, e *engine.Engine, room, nick string, extra map[string]any) protocol.Room {
	t.Helper()
	args := map[string]any{"room": room, "nick": nick}
	for k, v := range extra {
		args[k] = v
	}
	var r protocol.Room
	if err := json.Unmarshal(do(t, e, "muc.join", args), &r); err != nil {
		t.Fatal(err)
	}
	if r.State != protocol.RoomJoined || r.Nick != nick || r.JID != room {
		t.Fatalf("muc.join %s as %s = %+v", room, nick, r)
	}
	return r
}

// TestRooms runs group chat between engines on each server: finding the service, joining
// (creating the room on the way), occupants with roles and affiliations, messages with their
// echo, mentions, subject, nick change and its conflict, and leaving.
func TestRooms(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, x *testenv.Server) {
		s := stackOn(t, x)
		for _, u := range []string{"alice", "bob", "carol"} {
			x.AddUser(t, u, u+"-pw")
		}
		alice, aliceTab := login(t, s, "alice", "desk")
		bob, bobTab := login(t, s, "bob", "laptop")
		carol, _ := login(t, s, "carol", "phone")

		var found struct {
			Service string `json:"service"`
			Rooms   []struct{ JID, Name string }
		}
		_ = json.Unmarshal(do(t, alice, "muc.rooms", nil), &found)
		if found.Service != "conference.localhost" {
			t.Fatalf("muc.rooms found service %q, want conference.localhost", found.Service)
		}

		// Alice's join creates the room: she owns it.
		r := joinRoom(t, alice, room1, "Alice", nil)
		if r.Affiliation != "owner" || r.Role != "moderator" {
			t.Errorf("creator's room = %+v, want owner and moderator", r)
		}
		_ = json.Unmarshal(do(t, bob, "muc.rooms", map[string]string{"service": "conference.localhost"}), &found)
		if len(found.Rooms) != 0 {
			t.Logf("rooms listed: %+v", found.Rooms) // only public rooms are listed; the default differs
		}

		// Bob joins: he gets the whole list at once, alice one occupant more.
		joinRoom(t, bob, room1, "Bob", nil)
		list := bobTab.waitEvent(t, "occupants", func(d json.RawMessage) bool { return field(d, "room") == room1 })
		var occ protocol.Occupants
		_ = json.Unmarshal(list, &occ)
		if !occ.Full || occ.More || len(occ.Items) != 2 || occ.Items[0].Nick != "Alice" || occ.Items[0].Affiliation != "owner" || occ.Items[1].Nick != "Bob" {
			t.Errorf("bob's occupants event = %+v", occ)
		}
		waitOccupant(t, aliceTab, room1, func(o protocol.Occupant) bool {
			return o.Nick == "Bob" && o.Role == "participant" && o.Affiliation == "none" && !o.Left
		})
		snap := bob.Snapshot()
		if len(snap.Rooms) != 1 || snap.Rooms[0].State != "joined" || len(snap.Occupants[room1]) != 2 {
			t.Errorf("bob's snapshot rooms %+v occupants %+v", snap.Rooms, snap.Occupants)
		}

		// A nick taken is a conflict, and the room shows the error.
		if code := doErr(t, carol, "muc.join", map[string]string{"room": room1, "nick": "Bob"}); code != "conflict" {
			t.Errorf("join with a taken nick: %q, want conflict", code)
		}
		if st := carol.Snapshot().Rooms; len(st) != 1 || st[0].State != "error" || st[0].Error == nil || st[0].Error.Code != "conflict" {
			t.Errorf("carol's rooms after the conflict: %+v", st)
		}

		// Messages: the sender's copy goes pending → sent on the room's echo, once; the
		// receiver sees nick and mention.
		id := field(do(t, alice, "chat.send", map[string]string{"to": room1, "body": "hi Bob, welcome"}), "id")
		got := waitMessage(t, bobTab, id, func(protocol.Message) bool { return true })
		if got.Type != "groupchat" || got.Nick != "Alice" || got.With != room1 || got.From != room1+"/Alice" || !got.Mentioned || got.Outgoing {
			t.Errorf("bob got %+v", got)
		}
		sent := waitMessage(t, aliceTab, id, func(m protocol.Message) bool { return m.State == "sent" })
		if !sent.Outgoing || sent.Type != "groupchat" || sent.StanzaID == "" {
			t.Errorf("alice's own message after the echo: %+v", sent)
		}
		id2 := field(do(t, bob, "chat.send", map[string]string{"to": room1, "body": "thanks alicent"}), "id")
		got = waitMessage(t, aliceTab, id2, func(protocol.Message) bool { return true })
		if got.Mentioned {
			t.Errorf("%q mentions Alice only as part of a word, yet mentioned: %+v", got.Body, got)
		}
		waitMessage(t, bobTab, id2, func(m protocol.Message) bool { return m.State == "sent" })
		for _, c := range []struct {
			e  *engine.Engine
			id string
		}{{alice, id}, {alice, id2}, {bob, id}, {bob, id2}} {
			convMessage(t, c.e.Snapshot().Conversations[room1], c.id) // exactly once
		}

		// Our presence reaches the rooms we are in.
		do(t, alice, "presence.set", map[string]string{"show": "away", "status": "brb"})
		waitOccupant(t, bobTab, room1, func(o protocol.Occupant) bool { return o.Nick == "Alice" && o.Show == "away" && o.Status == "brb" })

		// Subject.
		do(t, alice, "muc.subject", map[string]string{"room": room1, "subject": "Plans <b>for</b> today"})
		waitRoom(t, bobTab, room1, func(r protocol.Room) bool { return r.Subject == "Plans <b>for</b> today" })

		// Nick change: alice sees Bob leave as Robert; bob's room follows; a mention of the new
		// nick counts.
		r = protocol.Room{}
		_ = json.Unmarshal(do(t, bob, "muc.nick", map[string]string{"room": room1, "nick": "Robert"}), &r)
		if r.Nick != "Robert" {
			t.Errorf("muc.nick = %+v", r)
		}
		// Tabs learn the new nick from a room event, not only the tab that asked.
		waitRoom(t, bobTab, room1, func(r protocol.Room) bool { return r.Nick == "Robert" })
		waitOccupant(t, aliceTab, room1, func(o protocol.Occupant) bool { return o.Nick == "Bob" && o.Left && o.NewNick == "Robert" })
		waitOccupant(t, aliceTab, room1, func(o protocol.Occupant) bool { return o.Nick == "Robert" && !o.Left })
		if code := doErr(t, bob, "muc.nick", map[string]string{"room": room1, "nick": "Alice"}); code != "conflict" {
			t.Errorf("nick change to a taken nick: %q, want conflict", code)
		}
		id3 := field(do(t, alice, "chat.send", map[string]string{"to": room1, "body": "ROBERT: ping"}), "id")
		if m := waitMessage(t, bobTab, id3, func(protocol.Message) bool { return true }); !m.Mentioned {
			t.Errorf("mention of the new nick not seen: %+v", m)
		}

		// Leave: the room goes from bob's state; alice sees him go.
		do(t, bob, "muc.leave", map[string]string{"room": room1})
		waitRoom(t, bobTab, room1, func(r protocol.Room) bool { return r.State == "left" && r.Error == nil })
		waitOccupant(t, aliceTab, room1, func(o protocol.Occupant) bool { return o.Nick == "Robert" && o.Left && o.NewNick == "" })
		if rooms := bob.Snapshot().Rooms; len(rooms) != 0 {
			t.Errorf("bob's rooms after leaving: %+v", rooms)
		}
		// A groupchat message to a room we left is refused by the room: not sent.
		if code := doErr(t, bob, "muc.subject", map[string]string{"room": room1, "subject": "x"}); code != "item-not-found" {
			t.Errorf("subject of a room not joined: %q", code)
		}
	})
}

// TestRoomModeration covers invitations, voice, kick and ban, and refusals for those without
// the right, on each server.
func TestRoomModeration(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, x *testenv.Server) {
		s := stackOn(t, x)
		for _, u := range []string{"alice", "bob", "carol"} {
			x.AddUser(t, u, u+"-pw")
		}
		alice, aliceTab := login(t, s, "alice", "desk")
		bob, bobTab := login(t, s, "bob", "laptop")
		carol, carolTab := login(t, s, "carol", "phone")
		joinRoom(t, alice, room1, "Alice", nil)

		// Invitations reach carol both ways.
		do(t, alice, "muc.invite", map[string]string{"room": room1, "jid": "carol@localhost", "reason": "join us"})
		inv := carolTab.waitEvent(t, "invite", func(d json.RawMessage) bool { return field(d, "room") == room1 })
		var got protocol.Invite
		_ = json.Unmarshal(inv, &got)
		if got.Direct || got.Reason != "join us" || got.From == "" {
			t.Errorf("mediated invite = %+v", got)
		}
		do(t, alice, "muc.invite", map[string]any{"room": room1, "jid": "carol@localhost", "reason": "really", "direct": true})
		inv = carolTab.waitEvent(t, "invite", func(d json.RawMessage) bool { return field(d, "reason") == "really" })
		_ = json.Unmarshal(inv, &got)
		if !got.Direct || got.Room != room1 || got.From != "alice@localhost/desk" {
			t.Errorf("direct invite = %+v", got)
		}

		joinRoom(t, bob, room1, "Bob", nil)
		joinRoom(t, carol, room1, "Carol", nil)

		// A participant may not kick.
		if code := doErr(t, bob, "muc.role", map[string]string{"room": room1, "nick": "Carol", "role": "none"}); code != "forbidden" && code != "not-allowed" {
			t.Errorf("participant kicking: %q, want forbidden or not-allowed", code)
		}
		// Voice: alice makes bob a moderator, then a visitor; both see it.
		do(t, alice, "muc.role", map[string]string{"room": room1, "nick": "Bob", "role": "moderator"})
		waitRoom(t, bobTab, room1, func(r protocol.Room) bool { return r.Role == "moderator" })
		waitOccupant(t, aliceTab, room1, func(o protocol.Occupant) bool { return o.Nick == "Bob" && o.Role == "moderator" })
		do(t, alice, "muc.role", map[string]string{"room": room1, "nick": "Bob", "role": "visitor", "reason": "calm down"})
		waitRoom(t, bobTab, room1, func(r protocol.Room) bool { return r.Role == "visitor" })
		// A visitor's message is refused by the room and marked so.
		id := field(do(t, bob, "chat.send", map[string]string{"to": room1, "body": "can I speak?"}), "id")
		if m := waitMessage(t, bobTab, id, func(m protocol.Message) bool { return m.State == "error" }); m.Error == nil {
			t.Errorf("refused message without an error: %+v", m)
		}

		// Kick: carol's room is left, saying why.
		do(t, alice, "muc.role", map[string]string{"room": room1, "nick": "Carol", "role": "none", "reason": "spam"})
		kicked := waitRoom(t, carolTab, room1, func(r protocol.Room) bool { return r.State == "left" })
		if kicked.Error == nil || kicked.Error.Code != "kicked" {
			t.Errorf("kicked room = %+v", kicked)
		}
		waitOccupant(t, aliceTab, room1, func(o protocol.Occupant) bool { return o.Nick == "Carol" && o.Left })

		// Ban: carol comes back and is banned; then she cannot join.
		joinRoom(t, carol, room1, "Carol", nil)
		do(t, alice, "muc.affiliation", map[string]string{"room": room1, "jid": "carol@localhost", "affiliation": "outcast"})
		banned := waitRoom(t, carolTab, room1, func(r protocol.Room) bool { return r.State == "left" && r.Error != nil && r.Error.Code == "banned" })
		if banned.Role != "none" {
			t.Errorf("banned room = %+v", banned)
		}
		if code := doErr(t, carol, "muc.join", map[string]string{"room": room1, "nick": "Carol"}); code != "forbidden" {
			t.Errorf("banned user joining: %q, want forbidden", code)
		}
		// Only an owner changes affiliations.
		if code := doErr(t, bob, "muc.affiliation", map[string]string{"room": room1, "jid": "carol@localhost", "affiliation": "member"}); code != "forbidden" && code != "not-allowed" {
			t.Errorf("visitor changing affiliations: %q", code)
		}
		// Bad args never reach the network.
		for _, a := range []map[string]string{
			{"room": room1, "nick": "Bob", "role": "king"},
			{"room": "not a jid@@", "nick": "Bob", "role": "none"},
			{"room": room1, "nick": "", "role": "none"},
		} {
			if code := doErr(t, alice, "muc.role", a); code != "bad-request" {
				t.Errorf("muc.role %v: %q, want bad-request", a, code)
			}
		}
	})
}

// TestRoomHistory checks history from the room's archive: a join fetches the recent messages,
// chat.history pages back, and a rejoin after a fresh login repeats none of them.
func TestRoomHistory(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, x *testenv.Server) {
		s := stackOn(t, x)
		x.AddUser(t, "alice", "alice-pw")
		x.AddUser(t, "bob", "bob-pw")
		alice, aliceTab := login(t, s, "alice", "desk")
		bob, bobTab := login(t, s, "bob", "laptop")
		joinRoom(t, alice, room1, "Alice", nil)
		var ids []string
		for i := range 6 {
			id := field(do(t, alice, "chat.send", map[string]string{"to": room1, "body": fmt.Sprintf("message %d", i)}), "id")
			waitMessage(t, aliceTab, id, func(m protocol.Message) bool { return m.State == "sent" })
			ids = append(ids, id)
		}

		// Bob's join asks the room for no history (it has an archive) and fetches it instead.
		joinRoom(t, bob, room1, "Bob", nil)
		for _, id := range ids {
			m := waitMessage(t, bobTab, id, func(protocol.Message) bool { return true })
			if m.StanzaID == "" || m.Nick != "Alice" || m.Type != "groupchat" {
				t.Errorf("history message %+v", m)
			}
		}
		// Paging back through the room's archive.
		var page protocol.History
		_ = json.Unmarshal(do(t, bob, "chat.history", map[string]any{"with": room1, "limit": 4}), &page)
		if len(page.Messages) != 4 || page.Complete || page.Messages[3].ID != ids[5] {
			t.Fatalf("latest page = %+v", page)
		}
		_ = json.Unmarshal(do(t, bob, "chat.history", map[string]any{"with": room1, "limit": 4, "before": page.Messages[0].StanzaID}), &page)
		if len(page.Messages) != 2 || !page.Complete || page.Messages[0].ID != ids[0] {
			t.Fatalf("older page = %+v", page)
		}

		// A fresh login (the server forgot the stream) joins the room again by itself; what bob
		// typed meanwhile goes out once he is back in.
		bob.ForgetStream()
		bob.DropConnection()
		bobTab.waitEvent(t, "session", func(d json.RawMessage) bool { return field(d, "state") == "reconnecting" })
		offline := field(do(t, bob, "chat.send", map[string]string{"to": room1, "body": "typed while away"}), "id")
		waitRoom(t, bobTab, room1, func(r protocol.Room) bool { return r.State == "joining" })
		waitRoom(t, bobTab, room1, func(r protocol.Room) bool { return r.State == "joined" })
		waitMessage(t, bobTab, offline, func(m protocol.Message) bool { return m.State == "sent" })
		waitMessage(t, aliceTab, offline, func(m protocol.Message) bool { return m.Nick == "Bob" })
		id := field(do(t, alice, "chat.send", map[string]string{"to": room1, "body": "after the rejoin"}), "id")
		waitMessage(t, bobTab, id, func(protocol.Message) bool { return true })
		conv := bob.Snapshot().Conversations[room1]
		for _, id := range append(ids, id, offline) {
			convMessage(t, conv, id)
		}
		if n := bobTab.count("message", func(d json.RawMessage) bool { return field(d, "id") == offline && field(d, "state") == "error" }); n != 0 {
			t.Errorf("the message typed while away was refused")
		}
		if n := bobTab.count("message", func(d json.RawMessage) bool { return field(d, "id") == ids[0] }); n != 1 {
			t.Errorf("bob was told of message %s %d times, want once", ids[0], n)
		}
	})
}

// TestRoomCreate creates an instant room and a configured one (password, members-only off,
// name), reads and changes the configuration, and checks the password is enforced.
func TestRoomCreate(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, x *testenv.Server) {
		s := stackOn(t, x)
		x.AddUser(t, "alice", "alice-pw")
		x.AddUser(t, "bob", "bob-pw")
		alice, aliceTab := login(t, s, "alice", "desk")
		bob, _ := login(t, s, "bob", "laptop")

		var r protocol.Room
		_ = json.Unmarshal(do(t, alice, "muc.create", map[string]string{"room": "instant@conference.localhost", "nick": "Alice"}), &r)
		if r.State != "joined" || r.Affiliation != "owner" {
			t.Fatalf("instant room = %+v", r)
		}
		joinRoom(t, bob, "instant@conference.localhost", "Bob", nil) // unlocked: others may join
		if code := doErr(t, bob, "muc.create", map[string]string{"room": "instant@conference.localhost", "nick": "Bob2"}); code != "conflict" {
			t.Errorf("creating an existing room: %q, want conflict", code)
		}

		const secret = "secret@conference.localhost"
		_ = json.Unmarshal(do(t, alice, "muc.create", map[string]any{"room": secret, "nick": "Alice", "config": map[string]any{
			"name": "Secret plans", "password": "s3cret", "persistent": true, "membersOnly": false,
		}}), &r)
		if r.Name != "Secret plans" || r.State != "joined" {
			t.Errorf("configured room = %+v", r)
		}
		if code := doErr(t, bob, "muc.join", map[string]string{"room": secret, "nick": "Bob"}); code != "not-authorized" {
			t.Errorf("join without the password: %q, want not-authorized", code)
		}
		joinRoom(t, bob, secret, "Bob", map[string]any{"password": "s3cret"})

		// The configuration as a form, and a change to it.
		var form protocol.Form
		_ = json.Unmarshal(do(t, alice, "muc.config.get", map[string]string{"room": secret}), &form)
		values := map[string][]string{}
		for _, f := range form.Fields {
			values[f.Var] = f.Values
		}
		if v := values["muc#roomconfig_roomname"]; len(v) != 1 || v[0] != "Secret plans" {
			t.Errorf("room name in the form = %v (form %+v)", v, form)
		}
		if v := values["muc#roomconfig_persistentroom"]; len(v) != 1 || (v[0] != "1" && v[0] != "true") {
			t.Errorf("persistent in the form = %v", v)
		}
		do(t, alice, "muc.config.set", map[string]any{"room": secret, "values": map[string][]string{"muc#roomconfig_roomname": {"Open plans"}}})
		_ = json.Unmarshal(do(t, alice, "muc.config.get", map[string]string{"room": secret}), &form)
		for _, f := range form.Fields {
			if f.Var == "muc#roomconfig_roomname" && (len(f.Values) != 1 || f.Values[0] != "Open plans") {
				t.Errorf("room name after the change = %v", f.Values)
			}
		}
		if code := doErr(t, bob, "muc.config.get", map[string]string{"room": secret}); code != "forbidden" && code != "not-allowed" {
			t.Errorf("non-owner reading the configuration: %q", code)
		}
		if code := doErr(t, alice, "muc.config.set", map[string]any{"room": secret, "values": map[string][]string{"no#such_field": {"1"}}}); code != "bad-request" {
			t.Errorf("unknown configuration field: %q, want bad-request", code)
		}
		_ = aliceTab
	})
}

// TestBookmarks stores, lists and removes bookmarks (XEP-0402) and checks that a bookmark
// with autojoin joins its room after a fresh login.
func TestBookmarks(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, x *testenv.Server) {
		s := stackOn(t, x)
		x.AddUser(t, "alice", "alice-pw")
		alice, aliceTab := login(t, s, "alice", "desk")
		joinRoom(t, alice, room1, "Alice", nil)
		do(t, alice, "muc.leave", map[string]string{"room": room1})

		var bms protocol.Bookmarks
		_ = json.Unmarshal(do(t, alice, "bookmarks.list", nil), &bms)
		if len(bms.Items) != 0 {
			t.Fatalf("bookmarks before any: %+v", bms)
		}
		do(t, alice, "bookmarks.set", map[string]any{"jid": room1, "name": "Room one", "nick": "Ali", "autojoin": true})
		do(t, alice, "bookmarks.set", map[string]any{"jid": "other@conference.localhost", "name": "Other", "autojoin": false})
		aliceTab.waitEvent(t, "bookmarks", func(d json.RawMessage) bool {
			var b protocol.Bookmarks
			_ = json.Unmarshal(d, &b)
			return len(b.Items) == 2
		})
		if code := doErr(t, alice, "bookmarks.set", map[string]any{"jid": "no-room", "autojoin": true}); code != "bad-request" {
			t.Errorf("bookmark of a bad JID: %q", code)
		}

		// Another client of the account reads them from the server, and autojoins the first.
		phone, phoneTab := login(t, s, "alice", "phone")
		_ = json.Unmarshal(do(t, phone, "bookmarks.list", nil), &bms)
		want := []protocol.Bookmark{
			{JID: "other@conference.localhost", Name: "Other"},
			{JID: room1, Name: "Room one", Nick: "Ali", Autojoin: true},
		}
		if len(bms.Items) != 2 || bms.Items[0] != want[0] || bms.Items[1] != want[1] {
			t.Fatalf("bookmarks on the phone = %+v, want %+v", bms.Items, want)
		}
		r := waitRoom(t, phoneTab, room1, func(r protocol.Room) bool { return r.State == "joined" })
		if r.Nick != "Ali" {
			t.Errorf("autojoined as %q, want the bookmark's nick", r.Nick)
		}
		if snap := phone.Snapshot(); len(snap.Bookmarks) != 2 {
			t.Errorf("phone's snapshot bookmarks = %+v", snap.Bookmarks)
		}

		// A change on one client reaches the other as a PEP notification (+notify in our caps).
		do(t, phone, "bookmarks.set", map[string]any{"jid": "third@conference.localhost", "name": "Third"})
		aliceTab.waitEvent(t, "bookmarks", func(d json.RawMessage) bool {
			var b protocol.Bookmarks
			_ = json.Unmarshal(d, &b)
			return len(b.Items) == 3 && b.Items[2].JID == "third@conference.localhost" && b.Items[2].Name == "Third"
		})
		do(t, alice, "bookmarks.remove", map[string]string{"jid": "other@conference.localhost"})
		if x.Env["EJABBERD_DOMAIN"] == "" { // ejabberd 23.01 does not notify retractions here
			phoneTab.waitEvent(t, "bookmarks", func(d json.RawMessage) bool {
				var b protocol.Bookmarks
				_ = json.Unmarshal(d, &b)
				return len(b.Items) == 2 && b.Items[0].JID == room1
			})
		}
		do(t, phone, "bookmarks.remove", map[string]string{"jid": "third@conference.localhost"})
		_ = json.Unmarshal(do(t, phone, "bookmarks.list", nil), &bms)
		if len(bms.Items) != 1 || bms.Items[0].JID != room1 {
			t.Errorf("bookmarks after the removal = %+v", bms.Items)
		}
	})
}

// TestRoomReload reloads the engine from its store (a browser reload): it joins its rooms again
// by itself, and the room's archive repeats none of the messages it already had.
func TestRoomReload(t *testing.T) {
	s := startStack(t, testenv.ProsodyOptions{})
	s.prosody.AddUser(t, "alice", "alice-pw")
	store := storage.NewMemory()
	rec := newRecorder()
	first := engine.New(engine.Config{RelayURL: s.relay, Emit: rec.emit, Store: store})
	do(t, first, "session.login", map[string]string{"jid": "alice@localhost", "password": "alice-pw", "resource": "web"})
	joinRoom(t, first, room1, "Alice", nil)
	id := field(do(t, first, "chat.send", map[string]string{"to": room1, "body": "before the reload"}), "id")
	waitMessage(t, rec, id, func(m protocol.Message) bool { return m.State == "sent" })
	first.Sync()
	first.Close()

	rec2 := newRecorder()
	second := engine.New(engine.Config{RelayURL: s.relay, Emit: rec2.emit, Store: store})
	if err := second.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Do(context.Background(), req("session.logout", nil)) })
	r := waitRoom(t, rec2, room1, func(r protocol.Room) bool { return r.State == "joined" })
	if r.Nick != "Alice" {
		t.Errorf("rejoined as %+v", r)
	}
	id2 := field(do(t, second, "chat.send", map[string]string{"to": room1, "body": "after the reload"}), "id")
	waitMessage(t, rec2, id2, func(m protocol.Message) bool { return m.State == "sent" })
	conv := second.Snapshot().Conversations[room1]
	convMessage(t, conv, id)
	convMessage(t, conv, id2)
	if n := rec2.count("message", func(d json.RawMessage) bool { return field(d, "id") == id }); n != 0 {
		t.Errorf("the reloaded engine announced a message it had stored %d times", n)
	}
}
