package xmppws

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

func frames(t testing.TB, limit int, writes ...string) ([]string, error) {
	t.Helper()
	f := newFramer(limit)
	var out []string
	for _, w := range writes {
		err := f.write([]byte(w), func(b []byte, _ int) error {
			out = append(out, string(b))
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func TestFramer(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"open", []string{`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`},
			[]string{`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`}},
		{"one stanza", []string{`<message to="a@b"><body>hi</body></message>`},
			[]string{`<message to="a@b"><body>hi</body></message>`}},
		{"two stanzas in one write", []string{`<presence/><message><body>x</body></message>`},
			[]string{`<presence/>`, `<message><body>x</body></message>`}},
		{"split across writes", []string{`<message><bo`, `dy>he`, `llo</body></mess`, `age>`},
			[]string{`<message><body>hello</body></message>`}},
		{"split inside self-closing tag", []string{`<iq id="1"><ping xmlns="urn:xmpp:ping"/`, `></iq>`},
			[]string{`<iq id="1"><ping xmlns="urn:xmpp:ping"/></iq>`}},
		{"quoted angle brackets and slashes", []string{`<message id='a>/b' to="x/>y"><body>1</body></message>`},
			[]string{`<message id='a>/b' to="x/>y"><body>1</body></message>`}},
		{"stream close becomes close frame", []string{`<presence type="unavailable"/></stream:stream>`},
			[]string{`<presence type="unavailable"/>`, closeFrame}},
		{"whitespace keepalive dropped", []string{" \n", `<r xmlns="urn:xmpp:sm:3"/>`, " "},
			[]string{`<r xmlns="urn:xmpp:sm:3"/>`}},
		{"xml declaration dropped", []string{`<?xml version="1.0"?><open/>`}, []string{`<open/>`}},
		{"comment with > inside element kept", []string{`<a><!-- x > y --><b/></a>`}, []string{`<a><!-- x > y --><b/></a>`}},
		{"cdata with tags inside", []string{`<a><![CDATA[<b>]]></a>`}, []string{`<a><![CDATA[<b>]]></a>`}},
		{"nested same name", []string{`<a><a><a/></a></a><b/>`}, []string{`<a><a><a/></a></a>`, `<b/>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := frames(t, 0, tt.writes...)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("frames\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestFramerByteByByte(t *testing.T) {
	in := `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing"/><message id="x'y"><body>&lt;b&gt; 1 &amp; 2</body></message><presence/></stream:stream>`
	var writes []string
	for i := range in {
		writes = append(writes, in[i:i+1])
	}
	got, err := frames(t, 0, writes...)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`, `<message id="x'y"><body>&lt;b&gt; 1 &amp; 2</body></message>`, `<presence/>`, closeFrame}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestFramerLimit(t *testing.T) {
	_, err := frames(t, 64, `<message><body>`+strings.Repeat("x", 100))
	if err == nil {
		t.Fatal("an element over the limit was accepted")
	}
}

func TestFramerEmitError(t *testing.T) {
	f := newFramer(0)
	boom := errors.New("boom")
	if err := f.write([]byte(`<a/>`), func([]byte, int) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the emit error", err)
	}
}

func TestWithClientNS(t *testing.T) {
	tests := []struct{ in, want string }{
		{`<iq type="set" id="1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></iq>`, `<iq xmlns="jabber:client" type="set" id="1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></iq>`},
		{`<presence/>`, `<presence xmlns="jabber:client"/>`},
		{`<message xmlns="jabber:client" to="a"><body/></message>`, `<message xmlns="jabber:client" to="a"><body/></message>`},
		{`<message xmlns:x="urn:x" to="a"/>`, `<message xmlns="jabber:client" xmlns:x="urn:x" to="a"/>`},
		{`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`, `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`},
		{`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">x</auth>`, `<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">x</auth>`},
		{`<messages/>`, `<messages/>`},
	}
	for _, tt := range tests {
		f := newFramer(0)
		var got string
		if err := f.write([]byte(tt.in), func(b []byte, head int) error {
			got = string(withClientNS(b, head))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("withClientNS(%s)\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

// FuzzFramer checks that re-framing well-formed XML at arbitrary write boundaries yields exactly
// the top-level elements, each well-formed on its own.
func FuzzFramer(f *testing.F) {
	f.Add(`<message to="a"><body>hi &amp; bye</body></message><presence/>`, uint8(3))
	f.Add(`<iq type='get' id="a/>"><query xmlns="jabber:iq:roster"/></iq>`, uint8(1))
	f.Fuzz(func(t *testing.T, doc string, chunk uint8) {
		// Only well-formed sequences of elements are meaningful input for a framer. Token, unlike
		// RawToken, refuses end tags that match no start tag ("</A><A>"), which are not.
		d := xml.NewDecoder(strings.NewReader("<root>" + doc + "</root>"))
		d.Strict = true
		var want int
		depth := 0
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Skip()
			}
			switch tok.(type) {
			case xml.StartElement:
				depth++
				if depth == 2 {
					want++
				}
			case xml.EndElement:
				depth--
			case xml.ProcInst, xml.Directive:
				t.Skip()
			}
		}
		if depth != 0 || strings.Contains(doc, "<root") {
			t.Skip()
		}
		n := int(chunk%16) + 1
		var writes []string
		for i := 0; i < len(doc); i += n {
			writes = append(writes, doc[i:min(i+n, len(doc))])
		}
		got, err := frames(t, 0, writes...)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Fatalf("got %d frames %q, want %d", len(got), got, want)
		}
		for _, g := range got {
			dd := xml.NewDecoder(bytes.NewReader([]byte(g)))
			for {
				if _, err := dd.RawToken(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("frame %q is not well-formed: %v", g, err)
				}
			}
		}
	})
}
