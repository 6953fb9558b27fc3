// Package vcard reads and edits the profile fields SparkWeb shows in both vCard flavours XMPP
// servers store: vCard4 (XEP-0292, RFC 6351 in XML) and vcard-temp (XEP-0054). An edit changes
// only those fields and keeps every other property of the card as it was (addresses, names,
// the photo of vcard-temp), because storing a card replaces it whole.
package vcard

import (
	"encoding/xml"
	"strings"

	"mellium.im/xmlstream"
)

// Namespaces and the PEP node of vCard4.
const (
	NSTemp = "vcard-temp"
	NS4    = "urn:ietf:params:xml:ns:vcard-4.0"
	Node4  = "urn:xmpp:vcard4"
)

// Fields are the profile fields SparkWeb reads and edits; "" means absent.
type Fields struct {
	FN, Nickname, Email, Tel, URL, Note, Org, Title, Birthday string
}

// property says where one field lives in a card: the property element, the child holding the
// value ("" for the element's own text), and a prefix the value carries there (vCard4 tel URIs).
type property struct {
	name, value, prefix string
	field               func(*Fields) *string
}

func fn(f *Fields) *string       { return &f.FN }
func nickname(f *Fields) *string { return &f.Nickname }
func email(f *Fields) *string    { return &f.Email }
func tel(f *Fields) *string      { return &f.Tel }
func url(f *Fields) *string      { return &f.URL }
func note(f *Fields) *string     { return &f.Note }
func org(f *Fields) *string      { return &f.Org }
func title(f *Fields) *string    { return &f.Title }
func bday(f *Fields) *string     { return &f.Birthday }

var (
	tempProps = []property{
		{"FN", "", "", fn}, {"NICKNAME", "", "", nickname}, {"EMAIL", "USERID", "", email},
		{"TEL", "NUMBER", "", tel}, {"URL", "", "", url}, {"DESC", "", "", note},
		{"ORG", "ORGNAME", "", org}, {"TITLE", "", "", title}, {"BDAY", "", "", bday},
	}
	v4Props = []property{
		{"fn", "text", "", fn}, {"nickname", "text", "", nickname}, {"email", "text", "", email},
		{"tel", "uri", "tel:", tel}, {"url", "uri", "", url}, {"note", "text", "", note},
		{"org", "text", "", org}, {"title", "text", "", title}, {"bday", "date", "", bday},
	}
)

// Element is any XML element, decoded so that it can be written back unchanged: a card's
// properties SparkWeb does not edit survive an edit this way. Mixed content is not kept in
// order (vCards have none).
type Element struct {
	XMLName  xml.Name
	Attr     []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []Element  `xml:",any"`
}

// Card is a vCard of either flavour, as its root element.
type Card struct {
	Element
}

// UnmarshalXML reads a card from its root element (<vCard/> or <vcard/>).
func (c *Card) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	return d.DecodeElement(&c.Element, &start)
}

// NewTemp returns an empty vcard-temp card.
func NewTemp() *Card { return &Card{Element{XMLName: xml.Name{Space: NSTemp, Local: "vCard"}}} }

// New4 returns an empty vCard4 card.
func New4() *Card { return &Card{Element{XMLName: xml.Name{Space: NS4, Local: "vcard"}}} }

// Is4 reports whether the card is a vCard4 (else vcard-temp).
func (c *Card) Is4() bool { return c.XMLName.Space == NS4 }

func (c *Card) props() []property {
	if c.Is4() {
		return v4Props
	}
	return tempProps
}

// Fields reads the profile fields, each the first occurrence of its property.
func (c *Card) Fields() Fields {
	var f Fields
	for _, p := range c.props() {
		el := c.child(p.name)
		if el == nil {
			continue
		}
		v := el.Text
		if p.value != "" {
			if sub := el.child(p.value); sub != nil {
				v = sub.Text
			} else {
				v = ""
			}
		}
		*p.field(&f) = strings.TrimPrefix(strings.TrimSpace(v), p.prefix)
	}
	return f
}

// SetFields writes the profile fields: a field's first property is replaced (keeping its other
// children, such as the HOME or WORK type of an address), added when missing, and removed when
// the field is "". Other properties stay.
func (c *Card) SetFields(f Fields) {
	for _, p := range c.props() {
		v := *p.field(&f)
		i := c.index(p.name)
		if v == "" {
			if i >= 0 {
				c.Children = append(c.Children[:i], c.Children[i+1:]...)
			}
			continue
		}
		if i < 0 {
			c.Children = append(c.Children, Element{XMLName: xml.Name{Local: p.name}})
			i = len(c.Children) - 1
		}
		el := &c.Children[i]
		if p.value == "" {
			el.Text, el.Children = v, nil
			continue
		}
		el.Text = ""
		sub := el.child(p.value)
		if sub == nil {
			el.Children = append(el.Children, Element{XMLName: xml.Name{Local: p.value}})
			sub = &el.Children[len(el.Children)-1]
		}
		sub.Text = p.prefix + v
		if c.Is4() || p.name != "EMAIL" || el.child("INTERNET") != nil {
			continue
		}
		el.Children = append(el.Children, Element{XMLName: xml.Name{Local: "INTERNET"}})
	}
}

// Photo returns a vcard-temp card's PHOTO: its TYPE and BINVAL (base64, whitespace removed).
// A photo given only as an EXTVAL URL is not returned.
func (c *Card) Photo() (typ, b64 string) {
	el := c.child("PHOTO")
	if el == nil {
		return "", ""
	}
	if t := el.child("TYPE"); t != nil {
		typ = strings.TrimSpace(t.Text)
	}
	if b := el.child("BINVAL"); b != nil {
		b64 = strings.Join(strings.Fields(b.Text), "")
	}
	return typ, b64
}

// SetPhoto replaces a vcard-temp card's PHOTO; b64 "" removes it.
func (c *Card) SetPhoto(typ, b64 string) {
	if i := c.index("PHOTO"); i >= 0 {
		c.Children = append(c.Children[:i], c.Children[i+1:]...)
	}
	if b64 == "" {
		return
	}
	c.Children = append(c.Children, Element{XMLName: xml.Name{Local: "PHOTO"}, Children: []Element{
		{XMLName: xml.Name{Local: "TYPE"}, Text: typ},
		{XMLName: xml.Name{Local: "BINVAL"}, Text: b64},
	}})
}

// TokenReader writes the card as XML.
func (c *Card) TokenReader() xml.TokenReader { return c.Element.tokens(c.XMLName.Space, "") }

// tokens writes el; parentNS is the namespace in scope, which el's name inherits when it has none.
func (el Element) tokens(ns, parentNS string) xml.TokenReader {
	if el.XMLName.Space != "" {
		ns = el.XMLName.Space
	}
	start := xml.StartElement{Name: xml.Name{Local: el.XMLName.Local}}
	if ns != parentNS {
		start.Name.Space = ns
	}
	for _, a := range el.Attr {
		// Namespace declarations are written from the names themselves.
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		start.Attr = append(start.Attr, a)
	}
	var inner []xml.TokenReader
	if len(el.Children) == 0 || strings.TrimSpace(el.Text) != "" {
		if el.Text != "" {
			inner = append(inner, xmlstream.Token(xml.CharData(el.Text)))
		}
	}
	for _, ch := range el.Children {
		inner = append(inner, ch.tokens(ns, ns))
	}
	return xmlstream.Wrap(xmlstream.MultiReader(inner...), start)
}

func (el *Element) index(name string) int {
	for i := range el.Children {
		if strings.EqualFold(el.Children[i].XMLName.Local, name) {
			return i
		}
	}
	return -1
}

func (el *Element) child(name string) *Element {
	if i := el.index(name); i >= 0 {
		return &el.Children[i]
	}
	return nil
}
