package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/andybalholm/brotli"
)

var (
	wasmBytes = bytes.Repeat([]byte("\x00asm engine "), 500)
	indexHTML = []byte("<!doctype html><title>SparkWeb</title>")
)

func testFS(t *testing.T) fstest.MapFS {
	t.Helper()
	var br, gz bytes.Buffer
	bw := brotli.NewWriterLevel(&br, 5)
	bw.Write(wasmBytes)
	bw.Close()
	gw := gzip.NewWriter(&gz)
	gw.Write(wasmBytes)
	gw.Close()
	return fstest.MapFS{
		"index.html":                  {Data: indexHTML},
		"webcomponents/sparkweb.js":   {Data: []byte("export const x = 1;")},
		"static/worker.js":            {Data: []byte("importScripts('wasm_exec.js');")},
		"static/app.css":              {Data: []byte("body{}")},
		"static/sw.js":                {Data: []byte("self.onfetch = null;")},
		"static/manifest.webmanifest": {Data: []byte("{}")},
		"static/engine.wasm":          {Data: wasmBytes},
		"static/engine.wasm.br":       {Data: br.Bytes()},
		"static/engine.wasm.gz":       {Data: gz.Bytes()},
		"static/lone.gz":              {Data: []byte("a gzip file with no base")},
	}
}

func newHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := New(testFS(t))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestContentTypesAndPaths(t *testing.T) {
	h := newHandler(t)
	tests := []struct {
		path, contentType string
		status            int
		csp               bool
	}{
		{"/", "text/html; charset=utf-8", 200, true},
		{"/index.html", "text/html; charset=utf-8", 200, true},
		{"/webcomponents/sparkweb.js", "text/javascript; charset=utf-8", 200, false},
		{"/static/worker.js", "text/javascript; charset=utf-8", 200, false},
		{"/static/app.css", "text/css; charset=utf-8", 200, false},
		{"/static/manifest.webmanifest", "application/manifest+json", 200, false},
		{"/static/engine.wasm", "application/wasm", 200, false},
		{"/static/lone.gz", "", 200, false},
		// The variants are representations of engine.wasm, not resources of their own.
		{"/static/engine.wasm.br", "", 404, false},
		{"/static/engine.wasm.gz", "", 404, false},
		{"/static/", "", 404, false},
		{"/static", "", 404, false},
		{"/missing.js", "", 404, false},
		{"/static/../index.html", "", 404, false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			rec := get(h, "GET", tc.path)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if tc.contentType != "" && rec.Header().Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tc.contentType)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			if got := rec.Header().Get("Referrer-Policy"); got != "no-referrer" {
				t.Errorf("Referrer-Policy %q", got)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control %q", got)
			}
			csp := rec.Header().Get("Content-Security-Policy")
			if tc.csp != (csp != "") {
				t.Errorf("CSP %q, want present=%v", csp, tc.csp)
			}
			if tc.csp && !strings.Contains(csp, "'wasm-unsafe-eval'") {
				t.Errorf("CSP %q lacks 'wasm-unsafe-eval'", csp)
			}
			if rec.Header().Get("ETag") == "" {
				t.Error("no ETag")
			}
		})
	}
	if body := get(h, "GET", "/").Body.Bytes(); !bytes.Equal(body, indexHTML) {
		t.Errorf("/ served %q", body)
	}
}

func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "gzip":
		gr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = gr
	default:
		return b
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return out
}

func TestServiceWorkerAllowed(t *testing.T) {
	h := newHandler(t)
	tests := []struct {
		path, want string
	}{
		{"/static/sw.js", "/"},
		{"/static/worker.js", ""},
		{"/index.html", ""},
	}
	for _, tt := range tests {
		rec := get(h, http.MethodGet, tt.path)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", tt.path, rec.Code)
		}
		if got := rec.Header().Get("Service-Worker-Allowed"); got != tt.want {
			t.Errorf("GET %s: Service-Worker-Allowed = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestEncodingNegotiation(t *testing.T) {
	h := newHandler(t)
	tests := []struct {
		acceptEncoding string
		want           string // Content-Encoding
	}{
		{"", ""},
		{"gzip, deflate, br, zstd", "br"},
		{"gzip", "gzip"},
		{"x-gzip", "gzip"},
		{"br", "br"},
		{"identity", ""},
		{"deflate", ""},
		{"br;q=0, gzip", "gzip"},
		{"br;q=0.5, gzip;q=0.8", "gzip"},
		{"br;q=0.8, gzip;q=0.8", "br"},
		{"GZIP;Q=1", "gzip"},
		{"*", "br"},
		{"*;q=0", ""},
		{"br;q=0, *", "gzip"},
		{"br;q=bogus", ""},
	}
	etags := map[string]string{}
	for _, tc := range tests {
		t.Run(tc.acceptEncoding, func(t *testing.T) {
			rec := get(h, "GET", "/static/engine.wasm", "Accept-Encoding", tc.acceptEncoding)
			if rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			if got := rec.Header().Get("Content-Encoding"); got != tc.want {
				t.Errorf("Content-Encoding %q, want %q", got, tc.want)
			}
			if got := rec.Header().Get("Vary"); got != "Accept-Encoding" {
				t.Errorf("Vary %q", got)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/wasm" {
				t.Errorf("Content-Type %q", ct)
			}
			if got := decode(t, tc.want, rec.Body.Bytes()); !bytes.Equal(got, wasmBytes) {
				t.Errorf("body decodes to %d bytes, want the %d-byte original", len(got), len(wasmBytes))
			}
			etag := rec.Header().Get("ETag")
			if prev, ok := etags[tc.want]; ok && prev != etag {
				t.Errorf("ETag for %q changed: %s then %s", tc.want, prev, etag)
			}
			etags[tc.want] = etag
		})
	}
	// One strong, distinct ETag per representation.
	if len(etags) != 3 || etags[""] == etags["br"] || etags["br"] == etags["gzip"] || etags[""] == etags["gzip"] {
		t.Errorf("ETags per encoding %v, want three distinct", etags)
	}
	for enc, tag := range etags {
		if strings.HasPrefix(tag, "W/") || !strings.HasPrefix(tag, `"`) {
			t.Errorf("ETag %s for %q is not a strong entity tag", tag, enc)
		}
	}
	// Files without variants do not vary.
	if v := get(h, "GET", "/static/app.css", "Accept-Encoding", "br").Header().Get("Vary"); v != "" {
		t.Errorf("Vary %q on a file without variants", v)
	}
}

func TestConditionalGet(t *testing.T) {
	h := newHandler(t)
	br := get(h, "GET", "/static/engine.wasm", "Accept-Encoding", "br")
	tag := br.Header().Get("ETag")

	rec := get(h, "GET", "/static/engine.wasm", "Accept-Encoding", "br", "If-None-Match", tag)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("matching If-None-Match: status %d, %d body bytes; want 304, empty", rec.Code, rec.Body.Len())
	}
	if rec.Header().Get("ETag") != tag {
		t.Errorf("304 ETag %q, want %q", rec.Header().Get("ETag"), tag)
	}
	// The brotli tag must not validate the gzip representation.
	rec = get(h, "GET", "/static/engine.wasm", "Accept-Encoding", "gzip", "If-None-Match", tag)
	if rec.Code != 200 || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("other representation: status %d encoding %q; want 200 gzip", rec.Code, rec.Header().Get("Content-Encoding"))
	}
	rec = get(h, "GET", "/", "If-None-Match", `"stale"`)
	if rec.Code != 200 {
		t.Errorf("stale tag: status %d", rec.Code)
	}
	rec = get(h, "GET", "/", "If-None-Match", get(h, "GET", "/index.html").Header().Get("ETag"))
	if rec.Code != 304 {
		t.Errorf("/ and /index.html share a representation; status %d", rec.Code)
	}
}

func TestMethods(t *testing.T) {
	h := newHandler(t)
	if rec := get(h, "POST", "/"); rec.Code != 405 || rec.Header().Get("Allow") == "" {
		t.Errorf("POST: status %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	rec := get(h, "HEAD", "/static/engine.wasm", "Accept-Encoding", "gzip")
	if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("HEAD: status %d, %d body bytes, encoding %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Encoding"))
	}
}

func TestNewFailsOnUnreadableFS(t *testing.T) {
	if _, err := New(brokenFS{}); err == nil {
		t.Error("New accepted an FS whose walk fails")
	}
}

type brokenFS struct{}

func (brokenFS) Open(string) (fs.File, error) { return nil, fs.ErrPermission }

func TestUploadOriginsInCSP(t *testing.T) {
	h, err := New(testFS(t), WithUploadOrigins("https://Upload.Example.org:443", "http://127.0.0.1:5280"))
	if err != nil {
		t.Fatal(err)
	}
	csp := get(h, http.MethodGet, "/").Header().Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for _, name := range []string{"connect-src", "img-src", "media-src"} {
		if got, want := directives[name], "https://upload.example.org http://127.0.0.1:5280"; !strings.HasPrefix(got, "'self'") || !strings.HasSuffix(got, want) {
			t.Errorf("%s = %q, want 'self' ... %s", name, got, want)
		}
	}
	// Without the origins and media-src, it is the policy of pages without uploads.
	base := strings.ReplaceAll(csp, " https://upload.example.org http://127.0.0.1:5280", "")
	if base = strings.Replace(base, "media-src 'self'; ", "", 1); base != ContentSecurityPolicy {
		t.Errorf("upload origins changed more than connect-src, img-src and media-src:\n%s\n%s", base, ContentSecurityPolicy)
	}
	if csp := get(newHandler(t), http.MethodGet, "/").Header().Get("Content-Security-Policy"); csp != ContentSecurityPolicy || strings.Contains(csp, "media-src") {
		t.Errorf("without upload origins: %q", csp)
	}
}

func TestParseOrigin(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://upload.example.org", "https://upload.example.org"},
		{" HTTPS://Upload.Example.ORG:443 ", "https://upload.example.org"},
		{"http://127.0.0.1:5280", "http://127.0.0.1:5280"},
		{"http://localhost:80", "http://localhost"},
		{"https://[::1]:8443", "https://[::1]:8443"},
		{"https://[::1]", "https://[::1]"},
	} {
		if got, err := ParseOrigin(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{
		"", "upload.example.org", "ftp://upload.example.org", "https://", "https://upload.example.org/",
		"https://upload.example.org/path", "https://upload.example.org?x", "https://*.example.org",
		"https://a.example;script-src *", "https://a.example 'unsafe-inline'", "https://user@a.example",
		"https://a.example:0", "https://a.example:99999", "https://a.example:08", "https://a..example",
		"https://[1.2.3.4]", "https://a.example:443:1", "'self'", "https://a_b.example",
	} {
		if got, err := ParseOrigin(bad); err == nil {
			t.Errorf("ParseOrigin(%q) = %q, want an error", bad, got)
		}
	}
	if _, err := New(testFS(t), WithUploadOrigins("https://a.example; script-src *")); err == nil {
		t.Error("New accepted an upload origin that would inject a CSP directive")
	}
}
