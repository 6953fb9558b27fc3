package muc_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"mellium.im/xmlstream"

	"github.com/sparkweb/sparkweb/wasm/muc"
)

func TestMentions(t *testing.T) {
	tests := []struct {
		body, nick string
		want       bool
	}{
		{"hi Alice", "alice", true},
		{"ALICE: look", "Alice", true},
		{"@alice!", "alice", true},
		{"malice and alicent", "alice", false},
		{"alice_x", "alice", false},
		{"ask alice2", "alice", false},
		{"José, ça va ?", "josé", true},
		{"Joséphine", "josé", false},
		{"dr. who", "dr. who", true},
		{"anything", "", false},
		{"", "alice", false},
		{"alicealice alice", "alice", true},
	}
	for _, tt := range tests {
		if got := muc.Mentions(tt.body, tt.nick); got != tt.want {
			t.Errorf("Mentions(%q, %q) = %v, want %v", tt.body, tt.nick, got, tt.want)
		}
	}
}

func TestExitReason(t *testing.T) {
	decode := func(s string) *muc.UserX {
		var x muc.UserX
		if err := xml.Unmarshal([]byte(s), &x); err != nil {
			t.Fatal(err)
		}
		return &x
	}
	tests := []struct {
		x        string
		code     string
		contains string
	}{
		{`<x xmlns="http://jabber.org/protocol/muc#user"><item role="none"><actor nick="Boss"/><reason>spam</reason></item><status code="110"/><status code="307"/></x>`, "kicked", "kicked from the room by Boss: spam"},
		{`<x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="outcast"/><status code="301"/><status code="110"/></x>`, "banned", "banned"},
		{`<x xmlns="http://jabber.org/protocol/muc#user"><destroy jid="new@conf"><reason>moved</reason></destroy></x>`, "gone", "destroyed: moved"},
		{`<x xmlns="http://jabber.org/protocol/muc#user"><status code="332"/></x>`, "shutdown", "shutting down"},
		{`<x xmlns="http://jabber.org/protocol/muc#user"><status code="110"/><status code="bogus"/></x>`, "", ""},
	}
	for _, tt := range tests {
		code, text, ok := muc.ExitReason(decode(tt.x))
		if code != tt.code || ok != (tt.code != "") || !strings.Contains(text, tt.contains) {
			t.Errorf("ExitReason(%s) = %q %q %v", tt.x, code, text, ok)
		}
	}
	if _, _, ok := muc.ExitReason(nil); ok {
		t.Error("a presence without muc#user is a plain leave")
	}
}

func encode(t *testing.T, r xml.TokenReader) string {
	t.Helper()
	var buf bytes.Buffer
	e := xml.NewEncoder(&buf)
	if _, err := xmlstream.Copy(e, r); err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestElements(t *testing.T) {
	tests := []struct {
		name string
		r    xml.TokenReader
		want string
	}{
		{"join without history", muc.Join("pw", muc.History{MaxStanzas: 0}),
			`<x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="0"></history><password>pw</password></x>`},
		{"join since", muc.Join("", muc.History{MaxStanzas: -1, Since: "2026-11-23T10:00:00Z"}),
			`<x xmlns="http://jabber.org/protocol/muc"><history since="2026-11-23T10:00:00Z"></history></x>`},
		{"join plain", muc.Join("", muc.History{MaxStanzas: -1}), `<x xmlns="http://jabber.org/protocol/muc"></x>`},
		{"kick", muc.AdminItem("nick", "Bob", "role", "none", "bye"),
			`<query xmlns="http://jabber.org/protocol/muc#admin"><item nick="Bob" role="none"><reason>bye</reason></item></query>`},
		{"direct invite", muc.DirectInvitation("r@c", "", "come"), `<x xmlns="jabber:x:conference" jid="r@c" reason="come"></x>`},
		{"retract bookmark", muc.RetractBookmark("r@c"),
			`<pubsub xmlns="http://jabber.org/protocol/pubsub"><retract node="urn:xmpp:bookmarks:1" notify="true"><item id="r@c"></item></retract></pubsub>`},
	}
	for _, tt := range tests {
		if got := encode(t, tt.r); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
	pub := encode(t, muc.PublishBookmark("r@c", muc.Conference{Name: "R", Autojoin: "1", Nick: "me"}, true))
	for _, want := range []string{`<item id="r@c"><conference xmlns="urn:xmpp:bookmarks:1" autojoin="true" name="R"><nick>me</nick></conference></item>`,
		`<field var="pubsub#access_model"><value>whitelist</value></field>`, `<field var="pubsub#persist_items"><value>true</value></field>`,
		`<field var="pubsub#max_items"><value>max</value></field>`} {
		if !strings.Contains(pub, want) {
			t.Errorf("publish %s lacks %s", pub, want)
		}
	}
	if strings.Contains(encode(t, muc.PublishBookmark("r@c", muc.Conference{}, false)), "max_items") {
		t.Error("the fallback publish still has max_items")
	}
}
