package disco_test

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"mellium.im/xmlstream"

	"github.com/sparkweb/sparkweb/wasm/disco"
)

func decode(t *testing.T, s string) disco.Info {
	t.Helper()
	var in disco.Info
	if err := xml.Unmarshal([]byte(s), &in); err != nil {
		t.Fatal(err)
	}
	if err := in.Check(); err != nil {
		t.Fatal(err)
	}
	return in
}

// TestVer checks the verification string against XEP-0115's own examples (§5.2, §5.3) and the
// ill-formed answers of §5.4.
func TestVer(t *testing.T) {
	const simple = `<query xmlns='http://jabber.org/protocol/disco#info'>
		<identity category='client' name='Exodus 0.9.1' type='pc'/>
		<feature var='http://jabber.org/protocol/caps'/>
		<feature var='http://jabber.org/protocol/disco#info'/>
		<feature var='http://jabber.org/protocol/disco#items'/>
		<feature var='http://jabber.org/protocol/muc'/>
	</query>`
	const complex = `<query xmlns='http://jabber.org/protocol/disco#info' node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>
		<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
		<identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>
		<feature var='http://jabber.org/protocol/caps'/>
		<feature var='http://jabber.org/protocol/disco#info'/>
		<feature var='http://jabber.org/protocol/disco#items'/>
		<feature var='http://jabber.org/protocol/muc'/>
		<x xmlns='jabber:x:data' type='result'>
			<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
			<field var='ip_version'><value>ipv4</value><value>ipv6</value></field>
			<field var='os'><value>Mac</value></field>
			<field var='os_version'><value>10.5.1</value></field>
			<field var='software'><value>Psi</value></field>
			<field var='software_version'><value>0.11</value></field>
		</x>
	</query>`
	// The complex example with a second form lacking a hidden FORM_TYPE: ignored, same ver.
	ignoredForm := strings.Replace(complex, `</query>`, `<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'><value>urn:example</value></field></x></query>`, 1)
	tests := []struct {
		name, xml, ver string
		illFormed      bool
	}{
		{name: "simple", xml: simple, ver: "QgayPKawpkPSDYmwT/WM94uAlu0="},
		{name: "complex", xml: complex, ver: "q07IKJEyjvHSyhy//CH0CxmKi8w="},
		{name: "form without hidden FORM_TYPE ignored", xml: ignoredForm, ver: "q07IKJEyjvHSyhy//CH0CxmKi8w="},
		{name: "duplicate feature", xml: strings.Replace(simple, `</query>`, `<feature var='http://jabber.org/protocol/muc'/></query>`, 1), illFormed: true},
		{name: "duplicate identity", xml: strings.Replace(simple, `</query>`, `<identity category='client' name='Exodus 0.9.1' type='pc'/></query>`, 1), illFormed: true},
		{name: "duplicate FORM_TYPE", xml: strings.Replace(complex, `</query>`, `<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field></x></query>`, 1), illFormed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ver, err := disco.Ver(decode(t, tt.xml))
			if tt.illFormed {
				if !errors.Is(err, disco.ErrIllFormed) {
					t.Fatalf("Ver = %q, %v; want ErrIllFormed", ver, err)
				}
				return
			}
			if err != nil || ver != tt.ver {
				t.Fatalf("Ver = %q, %v; want %q", ver, err, tt.ver)
			}
		})
	}
}

// TestInfoRoundTrip encodes an answer and reads it back with the same verification string.
func TestInfoRoundTrip(t *testing.T) {
	in := disco.Info{
		Node:       "https://sparkweb.example/#x",
		Identities: []disco.Identity{{Category: "client", Type: "web", Name: "SparkWeb <&>"}, {Category: "client", Type: "web", Lang: "de", Name: "SparkWeb"}},
		Features:   []disco.Feature{{Var: disco.NSInfo}, {Var: disco.NSCaps}},
	}
	var b strings.Builder
	enc := xml.NewEncoder(&b)
	if _, err := xmlstream.Copy(enc, in.TokenReader()); err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	out := decode(t, b.String())
	want, _ := disco.Ver(in)
	got, err := disco.Ver(out)
	if err != nil || got != want || out.Node != in.Node || out.Identities[1].Lang != "de" {
		t.Fatalf("round trip of %s: %+v, ver %q (%v), want ver %q", b.String(), out, got, err, want)
	}
}

func TestCheckLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<query xmlns='http://jabber.org/protocol/disco#info'>`)
	for range 1001 {
		b.WriteString(`<feature var='x'/>`)
	}
	b.WriteString(`</query>`)
	var in disco.Info
	if err := xml.Unmarshal([]byte(b.String()), &in); err != nil {
		t.Fatal(err)
	}
	if err := in.Check(); err == nil {
		t.Fatal("Check accepted 1001 features")
	}
}

// BenchmarkVer measures one verification string of a typical client's answer: the cost of our
// own caps in every presence, and of checking a contact's answer.
func BenchmarkVer(b *testing.B) {
	in := disco.Info{Identities: []disco.Identity{{Category: "client", Type: "web", Name: "SparkWeb"}}}
	for i := range 25 {
		in.Features = append(in.Features, disco.Feature{Var: "urn:xmpp:example:feature:" + string(rune('a'+i))})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := disco.Ver(in); err != nil {
			b.Fatal(err)
		}
	}
}
