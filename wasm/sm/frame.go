package sm

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
)

// kind is what a frame is to stream management.
type kind uint8

const (
	kindOther   kind = iota // not counted: stream framing, SASL, features, other nonzas
	kindStanza              // iq, message or presence: counted
	kindRequest             // <r/>
	kindAck                 // <a h/>
	kindEnabled             // <enabled/>
	kindResumed             // <resumed/>
	kindFailed              // <failed/>
)

// classify tells what the one element in frame is. Over RFC 7395 every WebSocket message is one
// whole element, so its first start tag decides; only SM nonzas are parsed any further.
func classify(frame []byte) kind {
	name := localName(frame)
	switch string(name) {
	case "iq", "message", "presence":
		return kindStanza
	case "r", "a", "enabled", "resumed", "failed":
	default:
		return kindOther
	}
	start, err := startTag(frame)
	if err != nil || start.Name.Space != NS {
		return kindOther
	}
	switch start.Name.Local {
	case "r":
		return kindRequest
	case "a":
		return kindAck
	case "enabled":
		return kindEnabled
	case "resumed":
		return kindResumed
	default:
		return kindFailed
	}
}

// localName returns the unprefixed name of frame's first element, or nil if frame does not
// start with an unprefixed start tag. It does not allocate: it runs on every frame.
func localName(frame []byte) []byte {
	frame = bytes.TrimLeft(frame, " \t\r\n")
	if len(frame) < 2 || frame[0] != '<' {
		return nil
	}
	end := bytes.IndexAny(frame[1:], " \t\r\n/>")
	if end < 0 {
		return nil
	}
	name := frame[1 : 1+end]
	if bytes.IndexByte(name, ':') >= 0 {
		return nil // prefixed: stream:features, or a stanza in some other namespace
	}
	return name
}

// startTag parses frame's first start tag with namespaces resolved.
func startTag(frame []byte) (xml.StartElement, error) {
	d := xml.NewDecoder(bytes.NewReader(frame))
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if start, ok := tok.(xml.StartElement); ok {
			return start, nil
		}
	}
}

// attr returns the value of the unqualified attribute name, and whether it is there.
func attr(start xml.StartElement, name string) (string, bool) {
	for _, a := range start.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// parseH reads the h attribute of an <a/>, <resumed/> or <failed/>: a count modulo 2^32.
func parseH(start xml.StartElement) (h uint32, ok bool, err error) {
	v, ok := attr(start, "h")
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, true, fmt.Errorf("sm: bad h=%q in <%s/>", v, start.Name.Local)
	}
	return uint32(n), true, nil
}

// requestFrame is <r/>, asking the server how many of our stanzas it has handled.
var requestFrame = []byte(`<r xmlns="` + NS + `"/>`)

func ackFrame(h uint32) []byte {
	return []byte(`<a xmlns="` + NS + `" h="` + strconv.FormatUint(uint64(h), 10) + `"/>`)
}

func enableFrame() []byte {
	return []byte(`<enable xmlns="` + NS + `" resume="true"/>`)
}

func resumeFrame(previd string, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString(`<resume xmlns="` + NS + `" previd="`)
	_ = xml.EscapeText(&b, []byte(previd))
	b.WriteString(`" h="` + strconv.FormatUint(uint64(h), 10) + `"/>`)
	return b.Bytes()
}
