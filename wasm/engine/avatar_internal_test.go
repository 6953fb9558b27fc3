package engine

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

const hashA = "15d37bb65d54e171eb82e5ccf24ba9d465c2d5a8"

func avatarEvents(evs []protocol.Event) []protocol.Avatar {
	var out []protocol.Avatar
	for _, ev := range evs {
		if ev.Event != "avatar" {
			continue
		}
		var a protocol.Avatar
		_ = json.Unmarshal(ev.Data.(json.RawMessage), &a)
		out = append(out, a)
	}
	return out
}

// TestAvatarHintsUntrusted feeds XEP-0153 hints from the network, well-formed or not: a hash is
// taken for a contact we know nothing of, anything else changes nothing by itself (it is checked
// against the contact's metadata when online), and no input ends the session. (PEP
// notifications need a session: TestAvatarRefused covers them.)
func TestAvatarHintsUntrusted(t *testing.T) {
	pres := func(from, x string) string {
		return `<presence xmlns="jabber:client" from="` + from + `">` + x + `</presence>`
	}
	upd := func(photo string) string { return `<x xmlns="vcard-temp:x:update">` + photo + `</x>` }
	tests := []struct {
		name    string
		stanzas []string
		want    []protocol.Avatar
		known   map[string]string
	}{
		{"hash", []string{pres("bob@localhost/a", upd("<photo>"+hashA+"</photo>"))},
			[]protocol.Avatar{{JID: "bob@localhost", Hash: hashA}}, map[string]string{"bob@localhost": hashA}},
		{"upper case hash", []string{pres("bob@localhost/a", upd("<photo> "+strings.ToUpper(hashA)+" </photo>"))},
			[]protocol.Avatar{{JID: "bob@localhost", Hash: hashA}}, map[string]string{"bob@localhost": hashA}},
		{"no avatar, unknown", []string{pres("bob@localhost/a", upd("<photo/>"))}, nil, map[string]string{}},
		{"not a hash", []string{pres("bob@localhost/a", upd("<photo>javascript:alert(1)</photo>"))}, nil, map[string]string{}},
		{"no photo", []string{pres("bob@localhost/a", upd(""))}, nil, map[string]string{}},
		{"contradiction is checked, not believed", []string{
			pres("bob@localhost/a", upd("<photo>"+hashA+"</photo>")),
			pres("bob@localhost/b", upd("<photo/>")),
			pres("bob@localhost/b", upd("<photo>"+strings.Repeat("b", 40)+"</photo>")),
		}, []protocol.Avatar{{JID: "bob@localhost", Hash: hashA}}, map[string]string{"bob@localhost": hashA}},
		{"unavailable says nothing", []string{`<presence xmlns="jabber:client" type="unavailable" from="bob@localhost/a">` + upd("<photo>"+hashA+"</photo>") + `</presence>`},
			nil, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, events, mu := recordingEngine()
			got := avatarEvents(feed(t, e, events, mu, tt.stanzas...))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("avatar events = %v, want %v", got, tt.want)
			}
			if snap := e.Snapshot().Avatars; fmt.Sprint(snap) != fmt.Sprint(tt.known) {
				t.Errorf("snapshot avatars = %v, want %v", snap, tt.known)
			}
		})
	}
}

// BenchmarkPresenceAvatars measures a login's presence flood of 5,000 contacts, each presence
// carrying an avatar hash (XEP-0153), against the same flood without: the cost avatars add to
// the worker.
func BenchmarkPresenceAvatars(b *testing.B) {
	const n = 5000
	for _, withAvatar := range []bool{false, true} {
		var sb strings.Builder
		for i := range n {
			x := ""
			if withAvatar {
				x = fmt.Sprintf(`<x xmlns="vcard-temp:x:update"><photo>%040x</photo></x>`, i+1)
			}
			fmt.Fprintf(&sb, `<presence xmlns="jabber:client" from="c%d@localhost/r"><show>away</show>%s</presence>`, i, x)
		}
		flood := sb.String()
		b.Run(fmt.Sprintf("avatars=%v", withAvatar), func(b *testing.B) {
			for b.Loop() {
				e := New(Config{})
				d := xml.NewDecoder(strings.NewReader(flood))
				for {
					tok, err := d.Token()
					if err == io.EOF {
						break
					}
					start := tok.(xml.StartElement)
					if err := e.handle(stream{d, xml.NewEncoder(io.Discard)}, &start); err != nil {
						b.Fatal(err)
					}
				}
				if withAvatar && len(e.st.avatars) != n {
					b.Fatalf("%d avatars known, want %d", len(e.st.avatars), n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/n, "µs/presence")
		})
	}
}
