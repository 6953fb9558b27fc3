// Package styled turns a message body written with XEP-0393 Message Styling into plain-text
// spans tagged with style names, so a view can render emphasis, quotes and code without ever
// treating text from the network as markup.
package styled

import (
	"io"
	"slices"
	"strings"

	"mellium.im/xmpp/styling"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// Style names, as they appear in protocol.Span.Kinds.
const (
	Strong    = "strong"
	Emphasis  = "emphasis"
	Strike    = "strike"
	Code      = "code" // inline preformatted text
	Pre       = "pre"  // preformatted block
	Quote     = "quote"
	Directive = "directive" // the styling characters themselves
)

// kinds maps the styling package's bits to names, in the order names are listed.
var kinds = []struct {
	mask styling.Style
	name string
}{
	{styling.SpanStrong, Strong},
	{styling.SpanEmph, Emphasis},
	{styling.SpanStrike, Strike},
	{styling.SpanPre, Code},
	{styling.BlockPre, Pre},
	{styling.BlockQuote, Quote},
	{styling.Directive, Directive},
}

// Parse splits body into spans whose texts, joined, are body again. It returns nil when body has
// no styling at all, so plain messages carry nothing extra.
func Parse(body string) []protocol.Span {
	var spans []protocol.Span
	styledAny := false
	d := styling.NewDecoder(strings.NewReader(body))
	for d.Next() {
		tok := d.Token()
		if len(tok.Data) == 0 {
			continue // block ends are empty tokens
		}
		var names []string
		for _, k := range kinds {
			if tok.Mask&k.mask != 0 {
				names = append(names, k.name)
			}
		}
		quote := int(d.Quote())
		if len(names) > 0 || quote > 0 {
			styledAny = true
		}
		if n := len(spans); n > 0 && spans[n-1].Quote == quote && slices.Equal(spans[n-1].Kinds, names) {
			spans[n-1].Text += string(tok.Data)
			continue
		}
		spans = append(spans, protocol.Span{Text: string(tok.Data), Kinds: names, Quote: quote})
	}
	if err := d.Err(); (err != nil && err != io.EOF) || !styledAny {
		return nil // unstyled, or styling we cannot read: the plain body stands
	}
	return spans
}
