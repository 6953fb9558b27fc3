package xmpptcp

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// items splits in as if it arrived in chunks of size n (all at once if n <= 0), and renders
// what came out as "H:…", "E:…" and "F:…" lines, ending with "ERR" on an error.
func items(in string, n int) []string {
	sp := newSplitter(1 << 10)
	var out []string
	b := []byte(in)
	for {
		if n <= 0 || n > len(b) {
			sp.feed(b)
			b = nil
		} else {
			sp.feed(b[:n])
			b = b[n:]
		}
		for {
			it, err := sp.next()
			if errors.Is(err, errMore) {
				break
			}
			if err != nil {
				return append(out, "ERR")
			}
			out = append(out, fmt.Sprintf("%c:%s", "?HEF"[it.kind], it.data))
		}
		if len(b) == 0 {
			return out
		}
	}
}

func TestSplitter(t *testing.T) {
	const header = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='1' from='localhost' version='1.0'>`
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"header, features, stanza, footer", header + `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features> <message to='a@b'><body>x &lt; y</body></message></stream:stream>`,
			[]string{"H:" + header[21:], "E:<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>", "E:<message to='a@b'><body>x &lt; y</body></message>", "F:</stream:stream>"}},
		{"restart mid-stream", header + `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` + header + `<iq/>`,
			[]string{"H:" + header[21:], "E:<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", "H:" + header[21:], "E:<iq/>"}},
		{"quotes hide markup", `<a b='>' c="/>"><c d='x'/></a>`, []string{`E:<a b='>' c="/>"><c d='x'/></a>`}},
		{"CDATA and comment inside", `<a><![CDATA[</a><b>]]><!-- </a> --></a>`, []string{`E:<a><![CDATA[</a><b>]]><!-- </a> --></a>`}},
		{"whitespace keepalives", " \n\t<a/>  <b/>", []string{"E:<a/>", "E:<b/>"}},
		{"client framing", `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="x"/><close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`,
			[]string{`E:<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="x"/>`, `E:<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`}},
		{"text at the top level", `<a/>oops`, []string{"E:<a/>", "ERR"}},
		{"DOCTYPE", `<!DOCTYPE x [<!ENTITY a "b">]><a/>`, []string{"ERR"}},
		{"entity declaration inside", `<a><!ENTITY x "y"></a>`, []string{"ERR"}},
		{"stray end tag", `</a>`, []string{"ERR"}},
		{"lt in attribute", `<a b='<'/>`, []string{"ERR"}},
		{"too large", "<a>" + strings.Repeat("x", 2000) + "</a>", []string{"ERR"}},
		{"unfinished", `<a><b/>`, nil},
	}
	for _, tc := range tests {
		for _, n := range []int{0, 1, 7} {
			t.Run(fmt.Sprintf("%s/chunks of %d", tc.name, n), func(t *testing.T) {
				got := items(tc.in, n)
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
			})
		}
	}
}

func TestTranslate(t *testing.T) {
	header := []byte(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s&amp;1' from='localhost' version='1.0' xml:lang='en'>`)
	open, decls, err := headerToOpen(header)
	if err != nil {
		t.Fatal(err)
	}
	if want := `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" id="s&amp;1" from="localhost" version="1.0" xml:lang="en"/>`; string(open) != want {
		t.Errorf("open\n%s\nwant\n%s", open, want)
	}
	if _, _, err := headerToOpen([]byte(`<stream:stream xmlns:stream='urn:other'>`)); err == nil {
		t.Error("a header in another namespace was accepted")
	}

	elems := []struct{ in, want string }{
		{`<message to='a@b'><body>hi</body></message>`, `<message to='a@b' xmlns="jabber:client"><body>hi</body></message>`},
		{`<presence/>`, `<presence xmlns="jabber:client"/>`},
		{`<iq xmlns='jabber:client' type='result'/>`, `<iq xmlns='jabber:client' type='result'/>`},
		{`<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`,
			`<stream:features xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams"><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`},
		{`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`, `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`},
	}
	for _, tc := range elems {
		head := bytes.IndexByte([]byte(tc.in), '>') + 1
		got, err := withDecls([]byte(tc.in), head, decls)
		if err != nil || string(got) != tc.want {
			t.Errorf("withDecls(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}

	msgs := []struct {
		in   string
		kind int
		want string
	}{
		{`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0" xml:lang="en"/>`, msgOpen,
			`<?xml version='1.0'?><stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="localhost" version="1.0" xml:lang="en">`},
		{`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`, msgClose, ""},
		{`<message xmlns="jabber:client"/>`, msgElement, ""},
		{`<open/>`, msgElement, ""}, // not in the framing namespace: just an element
	}
	for _, tc := range msgs {
		kind, start, err := classify([]byte(tc.in))
		if err != nil || kind != tc.kind {
			t.Errorf("classify(%s) = %d, %v; want %d", tc.in, kind, err, tc.kind)
			continue
		}
		if tc.want != "" {
			if got := string(openToHeader(start)); got != tc.want {
				t.Errorf("openToHeader(%s)\n%s\nwant\n%s", tc.in, got, tc.want)
			}
		}
	}
	if _, _, err := classify([]byte(`<reset xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`)); err == nil {
		t.Error("unknown framing element accepted")
	}
}

// FuzzSplit checks that the translator never panics, that how input is chunked never changes
// what comes out, and that what comes out can be translated without panicking.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><stream:features/><message><body>x</body></message></stream:stream>`,
		`<a b='>'><![CDATA[<]]><!-- - --></a>`, `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`, `<a><![CD`, `<!DOCTYPE a>`, `<a/>x`,
	} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, in string, n uint8) {
		whole, chunked := items(in, 0), items(in, int(n%16)+1)
		// A chunked run may stop at an error the whole run also meets; it must agree up to there.
		if strings.Join(whole, "\n") != strings.Join(chunked, "\n") {
			t.Fatalf("whole %q\nchunked %q", whole, chunked)
		}
		decls := nsDecls{"": NSClient, "stream": NSStream}
		for _, it := range whole {
			if it == "ERR" {
				break
			}
			kind, data := it[0], []byte(it[2:])
			switch kind {
			case 'H':
				_, _, _ = headerToOpen(data)
			case 'E':
				if data[0] != '<' || data[len(data)-1] != '>' {
					t.Fatalf("element %q", data)
				}
				head := bytes.IndexByte(data, '>') + 1
				if out, err := withDecls(data, head, decls); err == nil && !bytes.Contains(out, data[head:]) {
					t.Fatalf("withDecls lost content: %q → %q", data, out)
				}
				if k, start, err := classify(data); err == nil && k == msgOpen {
					_ = openToHeader(start)
				}
			}
		}
	})
}
