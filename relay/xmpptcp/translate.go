package xmpptcp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Namespaces of the two framings.
const (
	// NSFraming is RFC 7395's namespace of <open/> and <close/>.
	NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"
	// NSStream is RFC 6120's stream namespace.
	NSStream = "http://etherx.jabber.org/streams"
	// NSClient is the default namespace of client streams.
	NSClient = "jabber:client"
	nsTLS    = "urn:ietf:params:xml:ns:xmpp-tls"
)

// CloseFrame is RFC 7395's end of stream.
const CloseFrame = `<close xmlns="` + NSFraming + `"/>`

// streamFooter is RFC 6120's end of stream.
const streamFooter = "</stream:stream>"

// nsDecls are the namespace declarations in scope at the top level of a stream, from its
// header: "" is the default namespace, other keys are prefixes.
type nsDecls map[string]string

// startTag reads the first start tag in b without resolving namespaces, so prefixes and
// xmlns attributes come back as written. b may end right after the tag.
func startTag(b []byte) (xml.StartElement, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.RawToken()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return xml.StartElement{}, fmt.Errorf("xmpptcp: start tag: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData, xml.ProcInst:
			// leading whitespace or the XML declaration
		default:
			return xml.StartElement{}, fmt.Errorf("xmpptcp: start tag: unexpected %T", tok)
		}
	}
}

// qname is a raw name as written: prefix:local or local.
func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// declsOf returns the namespace declarations of a start tag read with startTag.
func declsOf(t xml.StartElement) nsDecls {
	d := nsDecls{}
	for _, a := range t.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			d[""] = a.Value
		case a.Name.Space == "xmlns":
			d[a.Name.Local] = a.Value
		}
	}
	return d
}

// headerToOpen turns a server's stream header into RFC 7395's <open/> with the same
// attributes (from, id, version, xml:lang), and returns the namespaces the header declares for
// the elements that follow.
func headerToOpen(header []byte) ([]byte, nsDecls, error) {
	t, err := startTag(header)
	if err != nil {
		return nil, nil, err
	}
	decls := declsOf(t)
	if t.Name.Local != "stream" || decls[t.Name.Space] != NSStream {
		return nil, nil, fmt.Errorf("xmpptcp: stream header <%s> is not in the %s namespace", qname(t.Name), NSStream)
	}
	var b strings.Builder
	b.WriteString(`<open xmlns="` + NSFraming + `"`)
	for _, a := range t.Attr {
		if a.Name.Local == "xmlns" || a.Name.Space == "xmlns" {
			continue
		}
		writeAttr(&b, qname(a.Name), a.Value)
	}
	b.WriteString("/>")
	return []byte(b.String()), decls, nil
}

// Client messages, by what they do to the stream.
const (
	msgElement = iota // an element to pass on
	msgOpen           // <open/>: start (or restart) the stream
	msgClose          // <close/>: end the stream
)

// classify tells a client's <open/> and <close/> from other elements.
func classify(msg []byte) (int, xml.StartElement, error) {
	t, err := startTag(msg)
	if err != nil {
		return 0, t, err
	}
	if declsOf(t)[t.Name.Space] != NSFraming {
		return msgElement, t, nil
	}
	switch t.Name.Local {
	case "open":
		return msgOpen, t, nil
	case "close":
		return msgClose, t, nil
	}
	return 0, t, fmt.Errorf("xmpptcp: unknown framing element <%s>", t.Name.Local)
}

// openToHeader turns a client's <open/> into an RFC 6120 stream header with the same
// attributes (to, from, version, xml:lang).
func openToHeader(open xml.StartElement) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version='1.0'?><stream:stream xmlns="` + NSClient + `" xmlns:stream="` + NSStream + `"`)
	for _, a := range open.Attr {
		if a.Name.Local == "xmlns" || a.Name.Space == "xmlns" {
			continue
		}
		writeAttr(&b, qname(a.Name), a.Value)
	}
	b.WriteString(">")
	return []byte(b.String())
}

func writeAttr(b *strings.Builder, name, value string) {
	b.WriteString(" " + name + `="`)
	_ = xml.EscapeText(b, []byte(value))
	b.WriteString(`"`)
}

// withDecls returns a top-level element carrying the declarations it inherited from the
// stream header, as RFC 7395 needs (each WebSocket message is parsed on its own): the default
// namespace always (xmlns='jabber:client' on stanzas) and a prefix when the element uses it.
func withDecls(elem []byte, head int, decls nsDecls) ([]byte, error) {
	t, err := startTag(elem[:head])
	if err != nil {
		return nil, err
	}
	own := declsOf(t)
	var add strings.Builder
	for _, prefix := range slices.Sorted(maps.Keys(decls)) {
		ns := decls[prefix]
		if _, ok := own[prefix]; ok {
			continue
		}
		if prefix == "" {
			writeAttr(&add, "xmlns", ns)
		} else if bytes.Contains(elem, []byte(prefix+":")) {
			writeAttr(&add, "xmlns:"+prefix, ns)
		}
	}
	if add.Len() == 0 {
		return elem, nil
	}
	// Insert before the start tag's end, "/>" or ">".
	at := head - 1
	if elem[at-1] == '/' {
		at--
	}
	out := make([]byte, 0, len(elem)+add.Len())
	out = append(out, elem[:at]...)
	out = append(out, add.String()...)
	return append(out, elem[at:]...), nil
}
