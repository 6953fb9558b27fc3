// Package pep builds the publish-subscribe requests (XEP-0060) a client sends to its own and its
// contacts' personal eventing nodes (XEP-0163). Answers are read by the caller into structs of
// its own, since each node has its own payload.
package pep

import (
	"encoding/xml"
	"strconv"

	"mellium.im/xmlstream"
)

// Namespaces.
const (
	NS      = "http://jabber.org/protocol/pubsub"
	NSEvent = NS + "#event"
	nsForm  = "jabber:x:data"
)

// Items asks for the items of node: those with the given ids, or with none the newest max
// (max <= 0 for all the service gives).
func Items(node string, max int, ids ...string) xml.TokenReader {
	start := xml.StartElement{Name: xml.Name{Local: "items"}, Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}}
	if max > 0 && len(ids) == 0 {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "max_items"}, Value: strconv.Itoa(max)})
	}
	var items []xml.TokenReader
	for _, id := range ids {
		items = append(items, item(id, nil))
	}
	return pubsub(xmlstream.Wrap(xmlstream.MultiReader(items...), start))
}

// Publish stores payload as item id of node. Options become publish-options (XEP-0060 §7.1.5),
// e.g. {"pubsub#access_model": "open"}: the service creates the node with them, or refuses the
// publish with a conflict (precondition-not-met) if the node exists configured otherwise.
func Publish(node, id string, payload xml.TokenReader, options map[string]string) xml.TokenReader {
	pub := xmlstream.Wrap(item(id, payload), xml.StartElement{Name: xml.Name{Local: "publish"}, Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}})
	if len(options) == 0 {
		return pubsub(pub)
	}
	fields := []xml.TokenReader{field("FORM_TYPE", NS+"#publish-options", "hidden")}
	for k, v := range options {
		fields = append(fields, field(k, v, ""))
	}
	form := xmlstream.Wrap(xmlstream.MultiReader(fields...), xml.StartElement{
		Name: xml.Name{Space: nsForm, Local: "x"}, Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "submit"}},
	})
	return pubsub(xmlstream.MultiReader(pub, xmlstream.Wrap(form, xml.StartElement{Name: xml.Name{Local: "publish-options"}})))
}

func pubsub(inner xml.TokenReader) xml.TokenReader {
	return xmlstream.Wrap(inner, xml.StartElement{Name: xml.Name{Space: NS, Local: "pubsub"}})
}

func item(id string, payload xml.TokenReader) xml.TokenReader {
	start := xml.StartElement{Name: xml.Name{Local: "item"}}
	if id != "" {
		start.Attr = []xml.Attr{{Name: xml.Name{Local: "id"}, Value: id}}
	}
	return xmlstream.Wrap(payload, start)
}

func field(name, value, typ string) xml.TokenReader {
	start := xml.StartElement{Name: xml.Name{Local: "field"}, Attr: []xml.Attr{{Name: xml.Name{Local: "var"}, Value: name}}}
	if typ != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "type"}, Value: typ})
	}
	v := xmlstream.Wrap(xmlstream.Token(xml.CharData(value)), xml.StartElement{Name: xml.Name{Local: "value"}})
	return xmlstream.Wrap(v, start)
}
