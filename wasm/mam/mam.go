// Package mam builds XEP-0313 (Message Archive Management) queries and reads their results.
//
// mellium's history package submits every form field, empty ones included, which servers may
// refuse, and ties results to its own mux; this package is just the wire format, so the engine
// can route results through its own stanza handler.
package mam

import (
	"encoding/xml"
	"strconv"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// NS is the MAM namespace.
const NS = "urn:xmpp:mam:2"

const (
	nsForm    = "jabber:x:data"
	nsRSM     = "http://jabber.org/protocol/rsm"
	nsForward = "urn:xmpp:forward:0"
)

// Query asks the archive for one page of messages.
type Query struct {
	// ID is echoed as queryid on every result message.
	ID string
	// With limits results to one conversation (a bare JID); empty means all.
	With string
	// After pages forward from this archive id; Before pages back from it. With neither and
	// Latest set, the newest page is returned.
	After, Before string
	// Latest asks for the last page instead of the first when Before is empty.
	Latest bool
	// Max is the page size.
	Max int
	// To is the archive asked: "" for our account's, a room's bare JID for a MUC archive.
	To string
}

// TokenReader is the <query/> payload of the archive IQ.
func (q Query) TokenReader() xml.TokenReader {
	fields := []xml.TokenReader{field("FORM_TYPE", "hidden", NS)}
	if q.With != "" {
		fields = append(fields, field("with", "", q.With))
	}
	form := xmlstream.Wrap(xmlstream.MultiReader(fields...), xml.StartElement{
		Name: xml.Name{Space: nsForm, Local: "x"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "submit"}},
	})
	set := []xml.TokenReader{text("max", strconv.Itoa(q.Max))}
	switch {
	case q.After != "":
		set = append(set, text("after", q.After))
	case q.Before != "":
		set = append(set, text("before", q.Before))
	case q.Latest:
		set = append(set, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "before"}}))
	}
	rsm := xmlstream.Wrap(xmlstream.MultiReader(set...), xml.StartElement{Name: xml.Name{Space: nsRSM, Local: "set"}})
	return xmlstream.Wrap(xmlstream.MultiReader(form, rsm), xml.StartElement{
		Name: xml.Name{Space: NS, Local: "query"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "queryid"}, Value: q.ID}},
	})
}

// IQ wraps the query in the IQ that sends it.
func (q Query) IQ(id string) xml.TokenReader {
	iq := stanza.IQ{XMLName: xml.Name{Space: stanza.NSClient, Local: "iq"}, ID: id, Type: stanza.SetIQ}
	if q.To != "" {
		iq.To, _ = jid.Parse(q.To) // a bad To leaves the IQ to our own archive, never elsewhere
	}
	return iq.Wrap(q.TokenReader())
}

func field(name, typ, value string) xml.TokenReader {
	attrs := []xml.Attr{{Name: xml.Name{Local: "var"}, Value: name}}
	if typ != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "type"}, Value: typ})
	}
	return xmlstream.Wrap(text("value", value), xml.StartElement{Name: xml.Name{Local: "field"}, Attr: attrs})
}

func text(name, value string) xml.TokenReader {
	return xmlstream.Wrap(xmlstream.Token(xml.CharData(value)), xml.StartElement{Name: xml.Name{Local: name}})
}

// Fin is the <fin/> that ends a query: whether the archive has no more pages in the direction
// asked, and the archive ids of the page's first and last messages.
type Fin struct {
	Complete bool   `xml:"complete,attr"`
	First    string `xml:"http://jabber.org/protocol/rsm set>first"`
	Last     string `xml:"http://jabber.org/protocol/rsm set>last"`
}

// Result is the <result/> in a message the archive sends for each match; M is how the caller
// reads the forwarded message (Message, or a type embedding it with more extensions).
type Result[M any] struct {
	QueryID   string       `xml:"queryid,attr"`
	ID        string       `xml:"id,attr"`
	Forwarded Forwarded[M] `xml:"urn:xmpp:forward:0 forwarded"`
}

// Forwarded is XEP-0297's wrapper: the original message and when it was sent. Carbons use it too.
type Forwarded[M any] struct {
	Delay struct {
		Stamp string `xml:"stamp,attr"`
	} `xml:"urn:xmpp:delay delay"`
	Message *M `xml:"jabber:client message"`
}

// Time is when the forwarded message was originally sent, or the zero time.
func (f Forwarded[M]) Time() time.Time {
	t, _ := time.Parse(time.RFC3339, f.Delay.Stamp)
	return t
}

// Message is the part of a chat message SparkWeb reads, wherever it comes from: live, a carbon
// or the archive.
type Message struct {
	stanza.Message
	Body     *string `xml:"body"`
	OriginID struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:sid:0 origin-id"`
	StanzaIDs []struct {
		By string `xml:"by,attr"`
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:sid:0 stanza-id"`
	Delay struct {
		Stamp string `xml:"stamp,attr"`
	} `xml:"urn:xmpp:delay delay"`
}

// StanzaID is the id the archive of by (a bare JID) gave the message, if any.
func (m Message) StanzaID(by string) string {
	for _, s := range m.StanzaIDs {
		if s.By == by {
			return s.ID
		}
	}
	return ""
}
