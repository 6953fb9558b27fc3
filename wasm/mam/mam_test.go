package mam_test

import (
	"bytes"
	"encoding/xml"
	"testing"

	"mellium.im/xmlstream"

	"github.com/sparkweb/sparkweb/wasm/mam"
)

func TestQueryXML(t *testing.T) {
	tests := []struct {
		name string
		q    mam.Query
		want string
	}{
		{"latest of a conversation", mam.Query{ID: "q1", With: "bob@localhost", Latest: true, Max: 50},
			`<query xmlns="urn:xmpp:mam:2" queryid="q1"><x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE" type="hidden"><value>urn:xmpp:mam:2</value></field><field var="with"><value>bob@localhost</value></field></x><set xmlns="http://jabber.org/protocol/rsm"><max>50</max><before></before></set></query>`},
		{"page back", mam.Query{ID: "q2", With: "bob@localhost", Before: "A1", Max: 20},
			`<query xmlns="urn:xmpp:mam:2" queryid="q2"><x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE" type="hidden"><value>urn:xmpp:mam:2</value></field><field var="with"><value>bob@localhost</value></field></x><set xmlns="http://jabber.org/protocol/rsm"><max>20</max><before>A1</before></set></query>`},
		{"catch up everything after", mam.Query{ID: "q3", After: "Z9", Max: 100},
			`<query xmlns="urn:xmpp:mam:2" queryid="q3"><x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE" type="hidden"><value>urn:xmpp:mam:2</value></field></x><set xmlns="http://jabber.org/protocol/rsm"><max>100</max><after>Z9</after></set></query>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := xml.NewEncoder(&buf)
			if _, err := xmlstream.Copy(e, tt.q.TokenReader()); err != nil {
				t.Fatal(err)
			}
			if err := e.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestResultDecode(t *testing.T) {
	const in = `<result xmlns="urn:xmpp:mam:2" queryid="q1" id="A7"><forwarded xmlns="urn:xmpp:forward:0"><delay xmlns="urn:xmpp:delay" stamp="2026-11-23T10:00:00Z"/><message xmlns="jabber:client" from="bob@localhost/x" to="alice@localhost" type="chat" id="m1"><body>hi</body><origin-id xmlns="urn:xmpp:sid:0" id="o1"/><stanza-id xmlns="urn:xmpp:sid:0" by="alice@localhost" id="A7"/></message></forwarded></result>`
	var r mam.Result[mam.Message]
	if err := xml.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	m := r.Forwarded.Message
	switch {
	case r.QueryID != "q1" || r.ID != "A7":
		t.Errorf("result ids %q %q", r.QueryID, r.ID)
	case m == nil || m.Body == nil || *m.Body != "hi" || m.OriginID.ID != "o1" || m.StanzaID("alice@localhost") != "A7" || m.StanzaID("bob@localhost") != "":
		t.Errorf("message %+v", m)
	case r.Forwarded.Time().IsZero():
		t.Errorf("no delay stamp")
	}
}
