package engine

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/sparkweb/sparkweb/wasm/muc"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// feed hands stanzas to the engine's dispatch as the session would and returns the events.
func feed(t *testing.T, e *Engine, events *[]protocol.Event, mu *sync.Mutex, stanzas ...string) []protocol.Event {
	t.Helper()
	mu.Lock()
	*events = nil
	mu.Unlock()
	for _, s := range stanzas {
		d := xml.NewDecoder(strings.NewReader(s))
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		start := tok.(xml.StartElement)
		if err := e.handle(stream{d, xml.NewEncoder(io.Discard)}, &start); err != nil {
			t.Fatalf("handle ended the session: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]protocol.Event(nil), *events...)
}

func recordingEngine() (*Engine, *[]protocol.Event, *sync.Mutex) {
	var mu sync.Mutex
	events := &[]protocol.Event{}
	e := New(Config{Emit: func(_ string, b []byte) {
		var ev struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(b, &ev)
		mu.Lock()
		*events = append(*events, protocol.Event{Event: ev.Event, Data: ev.Data})
		mu.Unlock()
	}})
	return e, events, &mu
}

// TestRoomPresenceUntrusted feeds room presences no room should send: each is bounded or
// dropped, never a crash, and a room's presence never shows as a contact's.
func TestRoomPresenceUntrusted(t *testing.T) {
	const roomJID = "r@conference.localhost"
	const x = `<x xmlns="http://jabber.org/protocol/muc#user">`
	tests := []struct {
		name   string
		stanza string
		check  func(t *testing.T, evs []protocol.Event)
	}{
		{"huge nick and status are clipped", `<presence xmlns="jabber:client" from="` + roomJID + `/` + strings.Repeat("n", 900) + `">` +
			`<status>` + strings.Repeat("s", 5000) + `</status>` + x + `<item affiliation="` + strings.Repeat("a", 100) + `" role="participant" jid="not@@a jid"/><status code="x"/></x></presence>`,
			func(t *testing.T, evs []protocol.Event) {
				if len(evs) != 1 || evs[0].Event != "occupant" {
					t.Fatalf("events %+v", evs)
				}
				var o protocol.Occupant
				_ = json.Unmarshal(evs[0].Data.(json.RawMessage), &o)
				if len(o.Nick) > muc.MaxNick || len(o.Status) > maxStatus || len(o.Affiliation) > 32 || o.JID != "" {
					t.Errorf("occupant not bounded: nick %d status %d affiliation %d jid %q", len(o.Nick), len(o.Status), len(o.Affiliation), o.JID)
				}
			}},
		{"presence of the room itself", `<presence xmlns="jabber:client" from="` + roomJID + `"/>`,
			func(t *testing.T, evs []protocol.Event) {
				if len(evs) != 0 {
					t.Errorf("events %+v", evs)
				}
			}},
		{"occupant of a room not joined", `<presence xmlns="jabber:client" from="other@conference.localhost/Eve">` + x + `<item role="moderator"/></x></presence>`,
			func(t *testing.T, evs []protocol.Event) {
				if len(evs) != 0 {
					t.Errorf("events %+v", evs)
				}
			}},
		{"malformed muc payload", `<presence xmlns="jabber:client" from="` + roomJID + `/Eve">` + x + `<item><actor><actor/></actor></item><destroy><reason><b>x</b></reason></destroy></x></presence>`,
			func(t *testing.T, evs []protocol.Event) {
				if len(evs) != 1 || (evs[0].Event != "occupant" && evs[0].Event != "error") {
					t.Errorf("events %+v", evs)
				}
			}},
		{"kicked", `<presence xmlns="jabber:client" from="` + roomJID + `/Me" type="unavailable">` + x + `<item role="none"><actor nick="Boss"/><reason>` + strings.Repeat("r", 5000) + `</reason></item><status code="110"/><status code="307"/></x></presence>`,
			func(t *testing.T, evs []protocol.Event) {
				var r protocol.Room
				for _, ev := range evs {
					if ev.Event == "room" {
						_ = json.Unmarshal(ev.Data.(json.RawMessage), &r)
					}
				}
				if r.State != protocol.RoomLeft || r.Error == nil || r.Error.Code != "kicked" || len(r.Error.Message) > 2*muc.MaxReason {
					t.Errorf("room after the kick: %+v", r)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, events, mu := recordingEngine()
			e.st.rooms[roomJID] = &room{Room: protocol.Room{JID: roomJID, Nick: "Me", State: protocol.RoomJoined}, occupants: map[string]protocol.Occupant{}}
			tt.check(t, feed(t, e, events, mu, tt.stanza))
			if len(e.st.presence) != 0 {
				t.Errorf("room presence filed as a contact's: %+v", e.st.presence)
			}
		})
	}
}

// TestBookmarkNotifications applies PEP notifications (XEP-0402) to the bookmarks.
func TestBookmarkNotifications(t *testing.T) {
	e, events, mu := recordingEngine()
	decode := func(s string) *pepEvent {
		// From tokens, as handle decodes stanzas: no raw bytes to fall back on.
		var m incomingMessage
		tokens := struct{ xml.TokenReader }{xml.NewDecoder(strings.NewReader(s))} // hides the *Decoder
		if err := xml.NewTokenDecoder(tokens).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m.PEP == nil {
			t.Fatalf("no event in %s", s)
		}
		return m.PEP
	}
	const ev = `<message xmlns="jabber:client" from="alice@localhost"><event xmlns="http://jabber.org/protocol/pubsub#event">`
	steps := []struct {
		stanza string
		want   []protocol.Bookmark
	}{
		{ev + `<items node="urn:xmpp:bookmarks:1"><item id="a@c"><conference xmlns="urn:xmpp:bookmarks:1" name="A" autojoin="true"><nick>me</nick></conference></item><item id="b@c"><conference xmlns="urn:xmpp:bookmarks:1" autojoin="maybe"/></item><item id="bad@@"><conference xmlns="urn:xmpp:bookmarks:1"/></item><item id="c@c"><other xmlns="x"/></item></items></event></message>`,
			[]protocol.Bookmark{{JID: "a@c", Name: "A", Nick: "me", Autojoin: true}, {JID: "b@c"}}},
		{ev + `<items node="urn:xmpp:bookmarks:1"><retract id="a@c"/></items></event></message>`, []protocol.Bookmark{{JID: "b@c"}}},
		{ev + `<items node="urn:xmpp:avatar:metadata"><item id="x"/></items></event></message>`, []protocol.Bookmark{{JID: "b@c"}}},
		{ev + `<purge node="urn:xmpp:bookmarks:1"/></event></message>`, []protocol.Bookmark{}},
	}
	for i, s := range steps {
		mu.Lock()
		*events = nil
		mu.Unlock()
		e.mu.Lock()
		if ev := decode(s.stanza); ev.Node() == muc.NSBookmarks { // as onMessage dispatches
			e.onBookmarksEventLocked(ev)
		}
		got := e.st.bookmarkList()
		e.mu.Unlock()
		if len(got) != len(s.want) {
			t.Fatalf("step %d: bookmarks %+v, want %+v", i, got, s.want)
		}
		for j := range got {
			if got[j] != s.want[j] {
				t.Errorf("step %d: bookmark %+v, want %+v", i, got[j], s.want[j])
			}
		}
		mu.Lock()
		n := len(*events)
		mu.Unlock()
		if wantEvents := map[bool]int{true: 0, false: 1}[i == 2]; n != wantEvents {
			t.Errorf("step %d: %d events, want %d", i, n, wantEvents)
		}
	}
}
