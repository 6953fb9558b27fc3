package xmppws

import (
	"bytes"
	"strings"
	"testing"
)

// benchStream is a run of typical client output: chat messages with ids and a receipt request,
// the bulk of what the engine writes.
var benchStream = []byte(strings.Repeat(
	`<message xmlns="jabber:client" to="bob@example.org" type="chat" id="5f2c1a9e"><body>See you at the station at six?</body><origin-id xmlns="urn:xmpp:sid:0" id="5f2c1a9e"/><request xmlns="urn:xmpp:receipts"/></message>`,
	64))

// BenchmarkFramer measures re-framing output into one element per WebSocket message, against a
// plain copy of the same bytes as the baseline (the ratio is what matters on a noisy machine).
func BenchmarkFramer(b *testing.B) {
	chunked := func(size int) func(*testing.B) {
		return func(b *testing.B) {
			b.SetBytes(int64(len(benchStream)))
			f := newFramer(MaxElement)
			n := 0
			for b.Loop() {
				for p := benchStream; len(p) > 0; {
					c := p[:min(size, len(p))]
					p = p[len(c):]
					if err := f.write(c, func(elem []byte, head int) error {
						n += len(withClientNS(elem, head))
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
			}
			if n == 0 {
				b.Fatal("no element framed")
			}
		}
	}
	b.Run("baseline-copy", func(b *testing.B) {
		b.SetBytes(int64(len(benchStream)))
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			buf.Write(benchStream)
		}
	})
	// mellium flushes in 4096-byte chunks; a small write per token is the other extreme.
	b.Run("4096-byte-writes", chunked(4096))
	b.Run("64-byte-writes", chunked(64))
}
