package engine

import (
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// TestRefIndex checks how an edit finds its message: in a room by the room's stanza-id except
// for corrections, by id where the room gave none, and by id in one-to-one chats.
func TestRefIndex(t *testing.T) {
	const room = "r@muc.example"
	msgs := []protocol.Message{
		{ID: "a", StanzaID: "s-a", With: room},
		{ID: "b", With: room}, // the room gave it no stanza-id
		{ID: "s-a", StanzaID: "s-c", With: room},
		{ID: "d", With: "other@example.org"},
	}
	tests := []struct {
		kind, ref string
		room      bool
		want      int
	}{
		{"retract", "s-a", true, 0},
		{"react", "a", true, -1}, // named by id although the room gave a stanza-id
		{"react", "b", true, 1},
		{"correct", "a", true, 0},
		{"correct", "s-a", true, 2}, // corrections name the id attribute
		{"moderate", "s-c", true, 2},
		{"retract", "a", false, 0},
		{"retract", "d", true, -1}, // another conversation
	}
	for _, tt := range tests {
		if got := refIndex(msgs, room, &edit{kind: tt.kind, ref: tt.ref}, tt.room); got != tt.want {
			t.Errorf("refIndex(%s %q, room %v) = %d, want %d", tt.kind, tt.ref, tt.room, got, tt.want)
		}
	}
}

// TestSameOccupant checks who may change a room message: the same occupant id when both
// carry one (a nick change keeps it), else the same occupant JID.
func TestSameOccupant(t *testing.T) {
	from := func(s string) jid.JID { return jid.MustParse(s) }
	tests := []struct {
		name     string
		m        protocol.Message
		in       inbound
		expected bool
	}{
		{"same nick", protocol.Message{From: "r@m/Al"}, inbound{from: from("r@m/Al")}, true},
		{"other nick", protocol.Message{From: "r@m/Al"}, inbound{from: from("r@m/Mal")}, false},
		{"same id, new nick", protocol.Message{From: "r@m/Al", OccupantID: "x"}, inbound{from: from("r@m/Alice"), occupantID: "x"}, true},
		{"other id, same nick", protocol.Message{From: "r@m/Al", OccupantID: "x"}, inbound{from: from("r@m/Al"), occupantID: "y"}, false},
		{"one id only", protocol.Message{From: "r@m/Al"}, inbound{from: from("r@m/Mal"), occupantID: "x"}, false},
	}
	for _, tt := range tests {
		if got := sameOccupant(tt.m, tt.in); got != tt.expected {
			t.Errorf("%s: sameOccupant = %v, want %v", tt.name, got, tt.expected)
		}
	}
}

// TestOccupantKey checks whom reactions are filed under: the real JID when shown (and not
// contradicted by the occupant id), else the occupant id, else the occupant JID.
func TestOccupantKey(t *testing.T) {
	r := &room{occupants: map[string]protocol.Occupant{
		"Al":  {Nick: "Al", JID: "al@example.org/desk", OccupantID: "x"},
		"Bob": {Nick: "Bob", OccupantID: "y"},
	}}
	tests := []struct {
		r         *room
		nick, occ string
		want      string
		why       string
	}{
		{r, "Al", "x", "al@example.org", "real JID shown"},
		{r, "Al", "z", "z", "a new occupant under Al's nick"},
		{r, "Bob", "y", "y", "no real JID"},
		{r, "Gone", "", "r@m/Gone", "nothing known"},
		{nil, "Al", "", "r@m/Al", "a room we are not in"},
	}
	for _, tt := range tests {
		if got := occupantKey(tt.r, "r@m", tt.nick, tt.occ); got != tt.want {
			t.Errorf("%s: occupantKey = %q, want %q", tt.why, got, tt.want)
		}
	}
}
