package styled_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sparkweb/sparkweb/wasm/styled"
)

func TestParse(t *testing.T) {
	tests := []struct {
		body string
		want string // spans as JSON; "null" for none
	}{
		{"plain text", `null`},
		{"a*b", `null`},
		{"*unclosed", `null`},
		{"hi *bold* _em_", `[{"text":"hi "},{"text":"*","kinds":["strong","directive"]},{"text":"bold","kinds":["strong"]},` +
			`{"text":"*","kinds":["strong","directive"]},{"text":" "},{"text":"_","kinds":["emphasis","directive"]},` +
			`{"text":"em","kinds":["emphasis"]},{"text":"_","kinds":["emphasis","directive"]}]`},
		{"~gone~ `x`", `[{"text":"~","kinds":["strike","directive"]},{"text":"gone","kinds":["strike"]},` +
			`{"text":"~","kinds":["strike","directive"]},{"text":" "},{"text":"` + "`" + `","kinds":["code","directive"]},` +
			`{"text":"x","kinds":["code"]},{"text":"` + "`" + `","kinds":["code","directive"]}]`},
		{"> said\nme", `[{"text":"\u003e ","kinds":["quote","directive"],"quote":1},{"text":"said\n","kinds":["quote"],"quote":1},{"text":"me"}]`},
		{"```\n*not bold*\n```", `[{"text":"` + "```\\n" + `","kinds":["pre","directive"]},{"text":"*not bold*\n","kinds":["pre"]},{"text":"` + "```" + `","kinds":["pre","directive"]}]`},
		{"<script> *x* </script>", `[{"text":"\u003cscript\u003e "},{"text":"*","kinds":["strong","directive"]},{"text":"x","kinds":["strong"]},{"text":"*","kinds":["strong","directive"]},{"text":" \u003c/script\u003e"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			got, _ := json.Marshal(styled.Parse(tt.body))
			if string(got) != tt.want {
				t.Errorf("Parse(%q) =\n%s\nwant\n%s", tt.body, got, tt.want)
			}
		})
	}
}

// FuzzParse checks that any input, however broken, gives spans that add up to the body.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"*a* _b_ ~c~ `d`", "> q\n>> r\ns", "```x\ny\n```", "*_~`", "\xff*a*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		spans := styled.Parse(body)
		if spans == nil {
			return
		}
		var b strings.Builder
		for _, s := range spans {
			b.WriteString(s.Text)
			if s.Text == "" {
				t.Errorf("empty span in %q", body)
			}
		}
		if b.String() != body {
			t.Errorf("spans of %q join to %q", body, b.String())
		}
	})
}

func BenchmarkParse(b *testing.B) {
	body := strings.Repeat("some *bold* and _emphasis_ with `code`\n> a quote\n", 20)
	b.ReportAllocs()
	for b.Loop() {
		_ = styled.Parse(body)
	}
}
