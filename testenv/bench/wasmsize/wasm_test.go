package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestPackageOf(t *testing.T) {
	tests := []struct{ sym, pkg, module string }{
		{"runtime.mallocgc", "runtime", "Go standard library"},
		{"net_http.__Transport_.roundTrip", "net/http", "Go standard library"},
		{"crypto_internal_fips140_nistec_fiat.p256Mul", "crypto/internal/fips140/nistec/fiat", "Go standard library"},
		{"vendor_golang.org_x_net_http2_hpack.huffmanDecode", "vendor/golang.org/x/net/http2/hpack", "Go standard library"},
		{"mellium.im_xmpp_stanza.__Error_.UnmarshalXML", "mellium.im/xmpp/stanza", "mellium.im/xmpp"},
		{"mellium.im_xmlstream.eofReader.Token", "mellium.im/xmlstream", "mellium.im/xmlstream"},
		{"github.com_coder_websocket_internal_wsjs.WebSocket.SendBytes", "github.com/coder/websocket/internal/wsjs", "github.com/coder/websocket"},
		{"github.com_sparkweb_sparkweb_wasm_engine.__Engine_.reconnect", "github.com/sparkweb/sparkweb/wasm/engine", "github.com/sparkweb/sparkweb"},
		{"golang.org_x_text_unicode_norm.nextMultiNorm", "golang.org/x/text/unicode/norm", "golang.org/x/text"},
		{"runtime.__mheap_.alloc", "runtime", "Go standard library"},
		{"slices.pdqsortCmpFunc_go.shape.string_", "slices", "Go standard library"},
		{"go___struct___mellium.im_xmpp_stream.Info__.Unlock", "(generated)", "(generated)"},
		{"wasm_export_run", "(generated)", "(generated)"},
	}
	idx := newPkgIndex([]string{"runtime", "net/http", "net", "crypto/internal/fips140/nistec/fiat", "slices",
		"vendor/golang.org/x/net/http2/hpack", "mellium.im/xmpp", "mellium.im/xmpp/stanza", "mellium.im/xmlstream",
		"github.com/coder/websocket", "github.com/coder/websocket/internal/wsjs",
		"github.com/sparkweb/sparkweb/wasm/engine", "golang.org/x/text/unicode/norm"})
	for _, tt := range tests {
		if got := idx.packageOf(tt.sym); got != tt.pkg {
			t.Errorf("packageOf(%q) = %q, want %q", tt.sym, got, tt.pkg)
		}
		if got := moduleOf(tt.pkg); got != tt.module {
			t.Errorf("moduleOf(%q) = %q, want %q", tt.pkg, got, tt.module)
		}
	}
}

// testModule builds a module with one imported function and two own functions, named in a
// "name" section: just the parts parseModule reads.
func testModule() []byte {
	sec := func(id byte, body ...byte) []byte { return append([]byte{id, byte(len(body))}, body...) }
	str := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	b := []byte("\x00asm\x01\x00\x00\x00")
	imp := append([]byte{1}, str("go")...)
	imp = append(imp, str("debug")...)
	imp = append(imp, 0, 0) // function of type 0
	b = append(b, sec(2, imp...)...)
	// Code: two bodies of 3 and 5 bytes (contents are not read).
	b = append(b, sec(10, 2, 3, 0, 0, 0x0b, 5, 0, 0, 0, 0, 0x0b)...)
	names := []byte{2} // two names, indices 1 and 2 (0 is the import)
	names = append(append(names, 1), str("runtime.f")...)
	names = append(append(names, 2), str("mellium.im_xmpp.g")...)
	sub := append([]byte{1, byte(len(names))}, names...)
	b = append(b, sec(0, append(str("name"), sub...)...)...)
	return b
}

func TestParseModule(t *testing.T) {
	m, err := parseModule(testModule())
	if err != nil {
		t.Fatal(err)
	}
	if want := map[uint32]int{1: 3, 2: 5}; !reflect.DeepEqual(m.funcSizes, want) {
		t.Errorf("funcSizes = %v, want %v", m.funcSizes, want)
	}
	if want := map[uint32]string{1: "runtime.f", 2: "mellium.im_xmpp.g"}; !reflect.DeepEqual(m.names, want) {
		t.Errorf("names = %v, want %v", m.names, want)
	}
	if m.sections["code"] != 11 || m.sections["import"] == 0 || m.sections["custom:name"] == 0 {
		t.Errorf("sections = %v", m.sections)
	}
}

func TestParseModuleRejectsBadInput(t *testing.T) {
	good := testModule()
	for name, b := range map[string][]byte{
		"empty":     nil,
		"not wasm":  []byte("\x7fELF\x02\x01\x01\x00"),
		"truncated": good[:len(good)-4],
	} {
		if _, err := parseModule(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseBudget(t *testing.T) {
	actual := map[string]int{"raw": 100, "gzip": 50, "brotli": 40}
	lines, err := parseBudget(strings.NewReader("# comment\nraw 100 # exactly at the limit\n\nbrotli 39\n"), actual)
	if err != nil {
		t.Fatal(err)
	}
	want := []BudgetLine{{"raw", 100, 100, true}, {"brotli", 39, 40, false}}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("lines = %+v, want %+v", lines, want)
	}
	for _, bad := range []string{"raw", "raw 1 2", "zstd 10", "gzip -1", "gzip ten"} {
		if _, err := parseBudget(strings.NewReader(bad), actual); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
