package xmppws

import (
	"fmt"
	"strings"
)

// closeFrame ends an RFC 7395 stream; mellium writes </stream:stream> instead.
const closeFrame = `<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`

// framer cuts an XML byte stream into complete top-level elements. RFC 7395 requires one whole
// element per WebSocket message, but mellium's encoder flushes whenever its 4 KiB buffer fills,
// so writes are re-assembled here first. It is a small lexer, not a parser: it only tracks
// nesting depth, quoting, comments and processing instructions, which is all framing needs.
type framer struct {
	buf   []byte
	pos   int // next byte of buf to scan
	start int // start of the element being collected, or -1 between elements
	depth int
	state lexState
	quote byte
	mark  int // where the current <?...?> or <!...> began
	head  int // length of the current top-level element's start tag, once known
	limit int
}

type lexState uint8

const (
	stText    lexState = iota // character data, or nothing, between tags
	stLT                      // just read '<'
	stStart                   // inside a start tag
	stQuoted                  // inside an attribute value
	stEnd                     // inside an end tag
	stSpecial                 // inside <?...?> or <!...>
)

func newFramer(limit int) *framer { return &framer{start: -1, limit: limit} }

// write appends p and calls emit once for every element it completes, with the length of
// that element's start tag.
func (f *framer) write(p []byte, emit func(elem []byte, head int) error) error {
	f.buf = append(f.buf, p...)
	for ; f.pos < len(f.buf); f.pos++ {
		c := f.buf[f.pos]
		switch f.state {
		case stText:
			if c == '<' {
				if f.depth == 0 {
					f.start = f.pos
				}
				f.state = stLT
			}
			// Character data between top-level elements (whitespace keepalives) is dropped:
			// RFC 7395 has no place for it.
		case stLT:
			switch c {
			case '/':
				f.state = stEnd
			case '?', '!':
				f.state, f.mark = stSpecial, f.pos-1
			default:
				f.state = stStart
			}
		case stStart:
			switch c {
			case '"', '\'':
				f.quote, f.state = c, stQuoted
			case '>':
				f.state = stText
				if f.depth == 0 {
					f.head = f.pos + 1 - f.start
				}
				if f.buf[f.pos-1] == '/' {
					if err := f.complete(emit); err != nil {
						return err
					}
				} else {
					f.depth++
				}
			}
		case stQuoted:
			if c == f.quote {
				f.state = stStart
			}
		case stEnd:
			if c == '>' {
				f.state = stText
				f.depth--
				if f.depth < 0 {
					// The end tag of a stream opened with <stream:stream>: say it the RFC 7395 way.
					f.depth, f.start = 0, -1
					if err := emit([]byte(closeFrame), len(closeFrame)); err != nil {
						return err
					}
					f.compact()
				} else if err := f.complete(emit); err != nil {
					return err
				}
			}
		case stSpecial:
			// Comments and processing instructions only matter for where they end. Mellium writes
			// neither inside stanzas; at the top level they are dropped like whitespace.
			if c == '>' && f.specialEnds() {
				f.state = stText
				if f.depth == 0 {
					f.start = -1
					f.compact()
				}
			}
		}
	}
	if f.start < 0 {
		f.compact()
	} else if f.limit > 0 && len(f.buf)-f.start > f.limit {
		return fmt.Errorf("xmppws: element exceeds %d bytes", f.limit)
	}
	return nil
}

// specialEnds reports whether the '>' at pos closes the <?...?> or <!...> begun at mark:
// comments and CDATA may contain '>' before their own terminator.
func (f *framer) specialEnds() bool {
	s := string(f.buf[f.mark : f.pos+1])
	switch {
	case strings.HasPrefix(s, "<!--"):
		return len(s) >= 7 && strings.HasSuffix(s, "-->")
	case strings.HasPrefix(s, "<![CDATA["):
		return len(s) >= 12 && strings.HasSuffix(s, "]]>")
	case strings.HasPrefix(s, "<?"):
		return len(s) >= 4 && strings.HasSuffix(s, "?>")
	}
	return true
}

// complete emits the element that just ended, if it was a top-level one.
func (f *framer) complete(emit func([]byte, int) error) error {
	if f.depth != 0 || f.start < 0 {
		return nil
	}
	elem := f.buf[f.start : f.pos+1]
	f.start = -1
	if err := emit(elem, f.head); err != nil {
		return err
	}
	f.compact()
	return nil
}

// withClientNS returns elem with xmlns="jabber:client" added to its start tag if it is a
// stanza without a default namespace. Each RFC 7395 frame is parsed on its own, so a stanza
// that relies on the stream's default namespace is refused (Prosody: unsupported-stanza-type),
// and mellium leaves the namespace off stanzas built without an XMLName.
func withClientNS(elem []byte, head int) []byte {
	name := len(elem)
	for i := 1; i < len(elem); i++ {
		if c := elem[i]; c == ' ' || c == '/' || c == '>' || c == '\t' || c == '\n' || c == '\r' {
			name = i
			break
		}
	}
	switch string(elem[1:name]) {
	case "iq", "message", "presence":
	default:
		return elem
	}
	tag := string(elem[:head])
	if strings.Contains(tag, " xmlns=") || strings.Contains(tag, "\txmlns=") || strings.Contains(tag, "\nxmlns=") {
		return elem
	}
	out := make([]byte, 0, len(elem)+len(` xmlns="jabber:client"`))
	out = append(out, elem[:name]...)
	out = append(out, ` xmlns="jabber:client"`...)
	return append(out, elem[name:]...)
}

// compact drops the bytes already emitted or skipped so the buffer does not grow.
func (f *framer) compact() {
	keep := f.pos + 1
	if f.start >= 0 {
		keep = f.start
	}
	if keep > len(f.buf) {
		keep = len(f.buf)
	}
	n := copy(f.buf, f.buf[keep:])
	f.buf = f.buf[:n]
	f.pos -= keep
	f.mark -= keep
	if f.start >= 0 {
		f.start -= keep
	}
}
