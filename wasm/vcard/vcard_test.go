package vcard

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"mellium.im/xmlstream"
)

func parse(t *testing.T, s string) *Card {
	t.Helper()
	var c Card
	if err := xml.Unmarshal([]byte(s), &c); err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return &c
}

func encode(t *testing.T, c *Card) string {
	t.Helper()
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	if _, err := xmlstream.Copy(enc, c.TokenReader()); err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

var all = Fields{
	FN: "Alice Liddell", Nickname: "ally", Email: "alice@example.org", Tel: "+44 1865 000000",
	URL: "https://example.org/~alice", Note: "<b>not markup</b> & co", Org: "Wonderland",
	Title: "Explorer", Birthday: "1852-05-04",
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		card func() *Card
	}{
		{"vcard-temp", NewTemp},
		{"vcard4", New4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.card()
			c.SetFields(all)
			out := encode(t, c)
			back := parse(t, out)
			if got := back.Fields(); got != all {
				t.Errorf("fields after a round trip through\n%s\n= %+v\nwant %+v", out, got, all)
			}
			if back.Is4() != c.Is4() {
				t.Errorf("flavour changed: %s", out)
			}
			// Clearing a field removes its property.
			f := all
			f.Tel, f.Email = "", ""
			back.SetFields(f)
			out = encode(t, back)
			if got := parse(t, out).Fields(); got != f {
				t.Errorf("after clearing: %+v from %s", got, out)
			}
			if strings.Contains(strings.ToLower(out), "tel") {
				t.Errorf("tel still present: %s", out)
			}
		})
	}
}

// TestKeepsOtherProperties checks that an edit keeps what SparkWeb does not edit: the photo,
// addresses, structured names, the type of an e-mail address.
func TestKeepsOtherProperties(t *testing.T) {
	tests := []struct {
		name, in string
		keep     []string
		want     Fields
	}{
		{
			"vcard-temp",
			`<vCard xmlns="vcard-temp"><FN>Old</FN><N><FAMILY>Liddell</FAMILY><GIVEN>Alice</GIVEN></N>` +
				`<EMAIL><HOME/><INTERNET/><USERID>old@example.org</USERID></EMAIL>` +
				`<PHOTO><TYPE>image/png</TYPE><BINVAL>iVBO
Rw0K</BINVAL></PHOTO><ADR><LOCALITY>Oxford</LOCALITY></ADR></vCard>`,
			[]string{"<FAMILY>Liddell</FAMILY>", "<HOME></HOME>", "<LOCALITY>Oxford</LOCALITY>", "<BINVAL>iVBO"},
			Fields{FN: "Old", Email: "old@example.org"},
		},
		{
			"vcard4",
			`<vcard xmlns="urn:ietf:params:xml:ns:vcard-4.0"><fn><text>Old</text></fn>` +
				`<tel><parameters><type><text>work</text></type></parameters><uri>tel:+1</uri></tel>` +
				`<impp><uri>xmpp:alice@example.org</uri></impp></vcard>`,
			[]string{"<text>work</text>", "<uri>xmpp:alice@example.org</uri>"},
			Fields{FN: "Old", Tel: "+1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parse(t, tt.in)
			if got := c.Fields(); got != tt.want {
				t.Errorf("fields = %+v, want %+v", got, tt.want)
			}
			c.SetFields(all)
			out := encode(t, c)
			for _, k := range tt.keep {
				if !strings.Contains(out, k) {
					t.Errorf("lost %s:\n%s", k, out)
				}
			}
			if got := parse(t, out).Fields(); got != all {
				t.Errorf("fields after edit = %+v", got)
			}
			if strings.Count(out, "xmlns=") != 1 {
				t.Errorf("children should inherit the card's namespace:\n%s", out)
			}
		})
	}
}

func TestPhoto(t *testing.T) {
	c := parse(t, `<vCard xmlns="vcard-temp"><FN>A</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>
  aGVs
  bG8=
</BINVAL></PHOTO></vCard>`)
	if typ, b64 := c.Photo(); typ != "image/png" || b64 != "aGVsbG8=" {
		t.Errorf("photo = %q %q", typ, b64)
	}
	c.SetPhoto("image/gif", "R0lG")
	c = parse(t, encode(t, c))
	if typ, b64 := c.Photo(); typ != "image/gif" || b64 != "R0lG" || c.Fields().FN != "A" {
		t.Errorf("after set: %q %q %+v", typ, b64, c.Fields())
	}
	c.SetPhoto("", "")
	if out := encode(t, c); strings.Contains(out, "PHOTO") {
		t.Errorf("photo not removed: %s", out)
	}
	if typ, b64 := parse(t, `<vCard xmlns="vcard-temp"><PHOTO><EXTVAL>http://x/y</EXTVAL></PHOTO></vCard>`).Photo(); b64 != "" || typ != "" {
		t.Errorf("EXTVAL photo = %q %q, want none", typ, b64)
	}
}

func FuzzCard(f *testing.F) {
	f.Add(`<vCard xmlns="vcard-temp"><FN>x</FN><EMAIL><USERID>y</USERID></EMAIL></vCard>`)
	f.Add(`<vcard xmlns="urn:ietf:params:xml:ns:vcard-4.0"><fn><text>x</text></fn></vcard>`)
	f.Fuzz(func(t *testing.T, s string) {
		var c Card
		if xml.Unmarshal([]byte(s), &c) != nil {
			return
		}
		c.SetFields(all)
		var buf bytes.Buffer
		enc := xml.NewEncoder(&buf)
		if _, err := xmlstream.Copy(enc, c.TokenReader()); err != nil {
			return // names the encoder refuses; the engine reports the error
		}
		_ = enc.Flush()
		var back Card
		if err := xml.Unmarshal(buf.Bytes(), &back); err != nil {
			t.Fatalf("edited card does not parse: %v\n%s", err, buf.String())
		}
	})
}
