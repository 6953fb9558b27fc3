package bridge

import (
	"bytes"
	"errors"

	"github.com/coder/websocket"
)

// ErrMarkupDeclaration is returned for a client message with a DOCTYPE, an entity or other
// markup declaration, or a comment. RFC 6120 §11.1 forbids them in XMPP; refusing them at the
// relay keeps entity-expansion ("billion laughs") and external-entity attacks away from servers
// whose parsers might not.
var ErrMarkupDeclaration = errors.New("XML with a DOCTYPE, entity declaration or comment is not allowed")

var (
	cdataOpen  = []byte("<![CDATA[")
	cdataClose = []byte("]]>")
	declOpen   = []byte("<!")
)

// xmlGuard refuses any "<!" construct in the client's stream except CDATA sections. It does not
// parse: a "<!" can only start markup, because a literal "<" in character data or attribute
// values must be escaped; the one place it may appear raw is inside CDATA, which is skipped.
// Servers parse the frames of one stream as one document, so the guard keeps state across
// messages and catches a "<!" split between two of them. Text and binary frames are both
// checked: a server may parse either.
type xmlGuard struct {
	inCDATA bool
	carry   []byte // tail of the previous message that may start a marker
}

func (g *xmlGuard) check(_ websocket.MessageType, msg []byte) error {
	buf := msg
	if len(g.carry) > 0 {
		buf = append(g.carry, msg...)
		g.carry = nil
	}
	for {
		if g.inCDATA {
			end := bytes.Index(buf, cdataClose)
			if end < 0 {
				g.carry = tail(buf, len(cdataClose)-1)
				return nil
			}
			buf = buf[end+len(cdataClose):]
			g.inCDATA = false
		}
		i := bytes.Index(buf, declOpen)
		if i < 0 {
			if bytes.HasSuffix(buf, []byte("<")) {
				g.carry = []byte("<")
			}
			return nil
		}
		rest := buf[i:]
		if len(rest) < len(cdataOpen) && bytes.HasPrefix(cdataOpen, rest) {
			g.carry = bytes.Clone(rest) // "<![CD" at the end: decided by the next message
			return nil
		}
		if !bytes.HasPrefix(rest, cdataOpen) {
			return ErrMarkupDeclaration
		}
		buf = rest[len(cdataOpen):]
		g.inCDATA = true
	}
}

// tail returns a copy of the last n bytes of b (all of b if shorter).
func tail(b []byte, n int) []byte {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return bytes.Clone(b)
}
