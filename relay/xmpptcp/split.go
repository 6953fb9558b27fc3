package xmpptcp

import (
	"bytes"
	"errors"
	"fmt"
)

// itemKind says what a splitter found.
type itemKind uint8

const (
	// kindHeader is an RFC 6120 stream header: the unclosed <stream:stream ...> start tag.
	kindHeader itemKind = iota + 1
	// kindElement is one complete top-level element (a stanza, features, <open/>, ...).
	kindElement
	// kindFooter is the </stream:stream> end tag.
	kindFooter
)

// item is one unit of a stream: a header, a footer, or a complete top-level element.
type item struct {
	kind itemKind
	// data is the item's bytes; valid until the next call to next.
	data []byte
	// head is the length of an element's start tag, where namespace declarations go.
	head int
}

// errMore means the buffer ends inside an item: feed more bytes.
var errMore = errors.New("xmpptcp: need more input")

// splitter cuts an XML stream into stream headers, top-level elements and the stream footer.
// It is a lexer, not a parser: it tracks tags, quoting, comments, CDATA and processing
// instructions, which is all that finding element boundaries needs, and leaves checking the
// XML inside elements to the receiver. A stream restart (a new header after SASL or STARTTLS)
// is just another header, wherever it appears between elements.
type splitter struct {
	buf   []byte
	pos   int // next byte to scan
	start int // start of the top-level element being collected, or -1
	depth int // element nesting below the stream (0: between top-level elements)
	head  int // start tag length of the current top-level element
	tag   int // start of the tag, comment or PI being scanned
	state lexState
	quote byte
	limit int // largest item; 0 means none
}

type lexState uint8

const (
	stText    lexState = iota // character data, or nothing, between tags
	stLT                      // just read '<'
	stStart                   // inside a start tag
	stQuoted                  // inside an attribute value
	stEnd                     // inside an end tag
	stPI                      // inside <?...?>
	stBang                    // read "<!", deciding between comment, CDATA and declaration
	stComment                 // inside <!--...-->
	stCDATA                   // inside <![CDATA[...]]>
)

func newSplitter(limit int) *splitter { return &splitter{start: -1, limit: limit} }

// feed appends p to the input.
func (s *splitter) feed(p []byte) { s.buf = append(s.buf, p...) }

// reset forgets all input, for a stream that starts over on a new transport (STARTTLS).
func (s *splitter) reset() { *s = splitter{start: -1, limit: s.limit} }

// next returns the next complete item, errMore when the input ends inside one, or an error
// if the input cannot be an XMPP stream.
func (s *splitter) next() (item, error) {
	s.compact()
	for ; s.pos < len(s.buf); s.pos++ {
		c := s.buf[s.pos]
		switch s.state {
		case stText:
			if c == '<' {
				s.tag = s.pos
				s.state = stLT
			} else if s.depth == 0 && !isSpace(c) {
				return item{}, fmt.Errorf("xmpptcp: character data %q between top-level elements", c)
			}
		case stLT:
			switch {
			case c == '/':
				s.state = stEnd
			case c == '?':
				s.state = stPI
			case c == '!':
				if s.depth == 0 {
					return item{}, errors.New("xmpptcp: DOCTYPE, comment or CDATA between top-level elements")
				}
				s.state = stBang
			case isSpace(c) || c == '>' || c == '<':
				return item{}, errors.New("xmpptcp: malformed tag")
			default:
				if s.depth == 0 {
					s.start = s.tag
				}
				s.state = stStart
			}
		case stStart:
			switch c {
			case '"', '\'':
				s.quote, s.state = c, stQuoted
			case '<':
				return item{}, errors.New("xmpptcp: '<' inside a start tag")
			case '>':
				s.state = stText
				selfClosing := s.buf[s.pos-1] == '/'
				name := tagName(s.buf[s.tag+1 : s.pos+1])
				if s.depth > 0 {
					if !selfClosing {
						s.depth++
					}
					continue
				}
				if !selfClosing && isStreamName(name) {
					return s.emit(kindHeader, s.tag, 0)
				}
				s.head = s.pos + 1 - s.tag
				if selfClosing {
					return s.emit(kindElement, s.tag, s.head)
				}
				s.depth = 1
			}
		case stQuoted:
			if c == s.quote {
				s.state = stStart
			} else if c == '<' {
				return item{}, errors.New("xmpptcp: '<' inside an attribute value")
			}
		case stEnd:
			if c != '>' {
				continue
			}
			s.state = stText
			if s.depth == 0 {
				if !isStreamName(tagName(s.buf[s.tag+2 : s.pos+1])) {
					return item{}, errors.New("xmpptcp: end tag without a start tag")
				}
				return s.emit(kindFooter, s.tag, 0)
			}
			s.depth--
			if s.depth == 0 {
				return s.emit(kindElement, s.start, s.head)
			}
		case stPI:
			if c == '>' && s.buf[s.pos-1] == '?' {
				s.state = stText // the XML declaration of a (re)started stream; nothing to pass on
			}
		case stBang:
			rest := s.buf[s.tag:]
			switch {
			case bytes.HasPrefix(rest, []byte("<!--")):
				s.state, s.pos = stComment, s.tag+3
			case bytes.HasPrefix(rest, []byte("<![CDATA[")):
				s.state, s.pos = stCDATA, s.tag+8
			case bytes.HasPrefix([]byte("<![CDATA["), rest) || bytes.HasPrefix([]byte("<!--"), rest):
				s.pos = len(s.buf) - 1 // undecided until more input arrives
			default:
				return item{}, errors.New("xmpptcp: markup declaration inside an element")
			}
		case stComment:
			if c == '>' && bytes.HasSuffix(s.buf[:s.pos], []byte("--")) && s.pos-2 > s.tag+3 {
				s.state = stText
			}
		case stCDATA:
			if c == '>' && bytes.HasSuffix(s.buf[:s.pos], []byte("]]")) && s.pos-2 >= s.tag+9 {
				s.state = stText
			}
		}
	}
	if s.limit > 0 && s.pending() > s.limit {
		return item{}, fmt.Errorf("xmpptcp: element larger than %d bytes", s.limit)
	}
	return item{}, errMore
}

// emit returns buf[from:pos+1] as an item and moves past it.
func (s *splitter) emit(kind itemKind, from, head int) (item, error) {
	it := item{kind: kind, data: s.buf[from : s.pos+1], head: head}
	s.pos++
	s.start = -1
	s.tag = s.pos
	if s.limit > 0 && len(it.data) > s.limit {
		return item{}, fmt.Errorf("xmpptcp: element larger than %d bytes", s.limit)
	}
	return it, nil
}

// pending is how many bytes of the current, unfinished item are buffered.
func (s *splitter) pending() int {
	from := s.tag
	if s.start >= 0 {
		from = s.start
	}
	return len(s.buf) - from
}

// compact drops consumed input so the buffer does not grow with the stream.
func (s *splitter) compact() {
	keep := s.pos
	if s.state != stText || s.start >= 0 {
		keep = s.tag
		if s.start >= 0 {
			keep = s.start
		}
	}
	if keep == 0 {
		return
	}
	n := copy(s.buf, s.buf[keep:])
	s.buf = s.buf[:n]
	s.pos -= keep
	s.tag -= keep
	if s.start >= 0 {
		s.start -= keep
	}
}

// tagName returns the qualified name at the start of b (the bytes after "<" or "</").
func tagName(b []byte) []byte {
	for i, c := range b {
		if isSpace(c) || c == '/' || c == '>' {
			return b[:i]
		}
	}
	return b
}

// isStreamName reports whether a qualified name is the stream element's (any prefix).
func isStreamName(name []byte) bool {
	_, local, _ := bytes.Cut(name, []byte(":"))
	return bytes.Contains(name, []byte(":")) && string(local) == "stream"
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
