// Package disco reads and writes service discovery payloads (XEP-0030) and computes and checks
// entity capabilities verification strings (XEP-0115).
//
// It is our own rather than mellium.im/xmpp/disco because a caps hash taken from the network
// must be checked as XEP-0115 §5.4 says (duplicates make a response ill-formed, forms sort by
// FORM_TYPE, forms without a hidden FORM_TYPE do not count), which mellium's Info.Hash does not.
package disco

import (
	"cmp"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"

	"mellium.im/xmlstream"

	"github.com/sparkweb/sparkweb/wasm/dataform"
)

// Namespaces.
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
	NSCaps  = "http://jabber.org/protocol/caps"
)

// Limits on a disco#info answer from the network: real ones list a few dozen features.
const (
	maxIdentities = 100
	maxFeatures   = 1000
	maxForms      = 20
	maxItems      = 10000
)

// Identity is one <identity/> of a disco#info answer.
type Identity struct {
	Category string `xml:"category,attr"`
	Type     string `xml:"type,attr"`
	Lang     string `xml:"http://www.w3.org/XML/1998/namespace lang,attr,omitempty"`
	Name     string `xml:"name,attr,omitempty"`
}

// Feature is one <feature/> of a disco#info answer.
type Feature struct {
	Var string `xml:"var,attr"`
}

// Info is a disco#info <query/>: a request (only Node) or an answer.
type Info struct {
	XMLName    xml.Name        `xml:"http://jabber.org/protocol/disco#info query"`
	Node       string          `xml:"node,attr,omitempty"`
	Identities []Identity      `xml:"identity"`
	Features   []Feature       `xml:"feature"`
	Forms      []dataform.Form `xml:"jabber:x:data x"`
}

// Check rejects a decoded answer too large to be a real one.
func (in *Info) Check() error {
	switch {
	case len(in.Identities) > maxIdentities:
		return fmt.Errorf("disco#info: %d identities, at most %d", len(in.Identities), maxIdentities)
	case len(in.Features) > maxFeatures:
		return fmt.Errorf("disco#info: %d features, at most %d", len(in.Features), maxFeatures)
	case len(in.Forms) > maxForms:
		return fmt.Errorf("disco#info: %d forms, at most %d", len(in.Forms), maxForms)
	}
	for i := range in.Forms {
		if err := in.Forms[i].Check(); err != nil {
			return fmt.Errorf("disco#info: %w", err)
		}
	}
	return nil
}

// FeatureList returns the features' names in the order given.
func (in Info) FeatureList() []string {
	out := make([]string, 0, len(in.Features))
	for _, f := range in.Features {
		out = append(out, f.Var)
	}
	return out
}

// Has reports whether the answer lists feature.
func (in Info) Has(feature string) bool {
	return slices.ContainsFunc(in.Features, func(f Feature) bool { return f.Var == feature })
}

// Form returns the form whose FORM_TYPE is formType (XEP-0128), or nil.
func (in *Info) Form(formType string) *dataform.Form {
	for i := range in.Forms {
		if in.Forms[i].FormType() == formType {
			return &in.Forms[i]
		}
	}
	return nil
}

// TokenReader encodes the query with its identities and features (forms are not written: this
// client has none to offer).
func (in Info) TokenReader() xml.TokenReader {
	var inner []xml.TokenReader
	for _, id := range in.Identities {
		attrs := []xml.Attr{{Name: xml.Name{Local: "category"}, Value: id.Category}, {Name: xml.Name{Local: "type"}, Value: id.Type}}
		if id.Lang != "" {
			attrs = append(attrs, xml.Attr{Name: xml.Name{Space: "http://www.w3.org/XML/1998/namespace", Local: "lang"}, Value: id.Lang})
		}
		if id.Name != "" {
			attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "name"}, Value: id.Name})
		}
		inner = append(inner, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "identity"}, Attr: attrs}))
	}
	for _, f := range in.Features {
		inner = append(inner, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "feature"}, Attr: []xml.Attr{{Name: xml.Name{Local: "var"}, Value: f.Var}}}))
	}
	return Query(NSInfo, in.Node, inner...)
}

// Item is one <item/> of a disco#items answer.
type Item struct {
	JID  string `xml:"jid,attr"`
	Node string `xml:"node,attr,omitempty"`
	Name string `xml:"name,attr,omitempty"`
}

// Items is a disco#items <query/> answer.
type Items struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/disco#items query"`
	Node    string   `xml:"node,attr,omitempty"`
	Items   []Item   `xml:"item"`
}

// Check rejects a decoded answer too large to be a real one.
func (it *Items) Check() error {
	if len(it.Items) > maxItems {
		return fmt.Errorf("disco#items: %d items, at most %d", len(it.Items), maxItems)
	}
	return nil
}

// Query is a <query xmlns=ns node=node/> (node left out when empty) holding inner.
func Query(ns, node string, inner ...xml.TokenReader) xml.TokenReader {
	start := xml.StartElement{Name: xml.Name{Space: ns, Local: "query"}}
	if node != "" {
		start.Attr = []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}
	}
	return xmlstream.Wrap(xmlstream.MultiReader(inner...), start)
}

// Caps is the <c/> element of entity capabilities (XEP-0115) in a presence.
type Caps struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/caps c"`
	Hash    string   `xml:"hash,attr"`
	Node    string   `xml:"node,attr"`
	Ver     string   `xml:"ver,attr"`
}

// TokenReader encodes the element.
func (c Caps) TokenReader() xml.TokenReader {
	return xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: NSCaps, Local: "c"}, Attr: []xml.Attr{
		{Name: xml.Name{Local: "hash"}, Value: c.Hash},
		{Name: xml.Name{Local: "node"}, Value: c.Node},
		{Name: xml.Name{Local: "ver"}, Value: c.Ver},
	}})
}

// ErrIllFormed is wrapped by Ver's error when an answer cannot have a verification string
// (XEP-0115 §5.4): the same identity, feature or form type twice.
var ErrIllFormed = errors.New("ill-formed disco#info for entity capabilities")

// Ver computes the SHA-1 verification string of an answer as XEP-0115 §5.1 says, checking it
// as §5.4 says: an answer with a duplicate identity, feature or FORM_TYPE has none.
func Ver(in Info) (string, error) {
	ids := slices.Clone(in.Identities)
	slices.SortFunc(ids, func(a, b Identity) int {
		return cmp.Or(strings.Compare(a.Category, b.Category), strings.Compare(a.Type, b.Type),
			strings.Compare(a.Lang, b.Lang), strings.Compare(a.Name, b.Name))
	})
	var s strings.Builder
	for i, id := range ids {
		if i > 0 && id == ids[i-1] {
			return "", fmt.Errorf("%w: identity %s/%s/%s/%s twice", ErrIllFormed, id.Category, id.Type, id.Lang, id.Name)
		}
		s.WriteString(id.Category + "/" + id.Type + "/" + id.Lang + "/" + id.Name + "<")
	}
	features := in.FeatureList()
	slices.Sort(features)
	for i, f := range features {
		if i > 0 && f == features[i-1] {
			return "", fmt.Errorf("%w: feature %q twice", ErrIllFormed, f)
		}
		s.WriteString(f + "<")
	}
	type ext struct {
		formType string
		form     *dataform.Form
	}
	var forms []ext
	for i := range in.Forms {
		f := &in.Forms[i]
		ft := f.Field("FORM_TYPE")
		if ft == nil || ft.Type != dataform.Hidden || len(ft.Values) == 0 {
			continue // not an extension form: ignored (§5.4 3.6)
		}
		for _, v := range ft.Values[1:] {
			if v != ft.Values[0] {
				return "", fmt.Errorf("%w: FORM_TYPE with several values", ErrIllFormed)
			}
		}
		if slices.ContainsFunc(forms, func(e ext) bool { return e.formType == ft.Values[0] }) {
			return "", fmt.Errorf("%w: FORM_TYPE %q twice", ErrIllFormed, ft.Values[0])
		}
		forms = append(forms, ext{ft.Values[0], f})
	}
	slices.SortFunc(forms, func(a, b ext) int { return strings.Compare(a.formType, b.formType) })
	for _, e := range forms {
		s.WriteString(e.formType + "<")
		fields := slices.Clone(e.form.Fields)
		fields = slices.DeleteFunc(fields, func(f dataform.Field) bool { return f.Var == "FORM_TYPE" })
		slices.SortFunc(fields, func(a, b dataform.Field) int { return strings.Compare(a.Var, b.Var) })
		for _, f := range fields {
			s.WriteString(f.Var + "<")
			values := slices.Clone(f.Values)
			slices.Sort(values)
			for _, v := range values {
				s.WriteString(v + "<")
			}
		}
	}
	sum := sha1.Sum([]byte(s.String()))
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}
