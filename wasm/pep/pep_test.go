package pep

import (
	"bytes"
	"encoding/xml"
	"testing"

	"mellium.im/xmlstream"
)

func TestRequests(t *testing.T) {
	payload := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "urn:x", Local: "p"}})
	tests := []struct {
		name string
		r    xml.TokenReader
		want string
	}{
		{"newest", Items("urn:n", 1), `<pubsub xmlns="http://jabber.org/protocol/pubsub"><items node="urn:n" max_items="1"></items></pubsub>`},
		{"by id", Items("urn:n", 1, "a", "b"), `<pubsub xmlns="http://jabber.org/protocol/pubsub"><items node="urn:n"><item id="a"></item><item id="b"></item></items></pubsub>`},
		{"publish", Publish("urn:n", "i", payload, nil), `<pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="urn:n"><item id="i"><p xmlns="urn:x"></p></item></publish></pubsub>`},
		{"publish with options", Publish("urn:n", "", nil, map[string]string{"pubsub#access_model": "open"}),
			`<pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="urn:n"><item></item></publish><publish-options>` +
				`<x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE" type="hidden"><value>http://jabber.org/protocol/pubsub#publish-options</value></field>` +
				`<field var="pubsub#access_model"><value>open</value></field></x></publish-options></pubsub>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			enc := xml.NewEncoder(&buf)
			if _, err := xmlstream.Copy(enc, tt.r); err != nil {
				t.Fatal(err)
			}
			_ = enc.Flush()
			if buf.String() != tt.want {
				t.Errorf("got  %s\nwant %s", buf.String(), tt.want)
			}
		})
	}
}
