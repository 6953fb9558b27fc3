// Package web serves SparkWeb's static assets (index.html, web components, worker, engine) from
// an fs.FS, with precompressed variants, strong ETags and the security headers the page needs.
package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// ContentSecurityPolicy is sent with every HTML page when no upload origins are configured.
// Scripts, workers and connections stay on the relay's origin; 'wasm-unsafe-eval' lets the
// engine compile its WebAssembly. Inline styles are allowed because custom elements put <style>
// in their shadow roots; inline scripts are not.
const ContentSecurityPolicy = "default-src 'self'; " +
	"script-src 'self' 'wasm-unsafe-eval'; " +
	"worker-src 'self'; " +
	"connect-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; " +
	"manifest-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Option configures a Handler.
type Option func(*Handler)

// WithUploadOrigins lets pages reach the XMPP server's HTTP upload (XEP-0363) hosts: the tab PUTs
// files there (connect-src) and shows what was shared from there (img-src, media-src). Each
// origin must have passed ParseOrigin; New refuses any other.
func WithUploadOrigins(origins ...string) Option {
	return func(h *Handler) { h.uploadOrigins = append(h.uploadOrigins, origins...) }
}

// CSP returns the Content-Security-Policy for pages whose uploads live at uploadOrigins
// (canonical origins, see ParseOrigin).
func CSP(uploadOrigins []string) string {
	if len(uploadOrigins) == 0 {
		return ContentSecurityPolicy
	}
	extra := " " + strings.Join(uploadOrigins, " ")
	return "default-src 'self'; " +
		"script-src 'self' 'wasm-unsafe-eval'; " +
		"worker-src 'self'; " +
		"connect-src 'self'" + extra + "; " +
		"style-src 'self' 'unsafe-inline'; " +
		"img-src 'self' data: blob:" + extra + "; " +
		"media-src 'self'" + extra + "; " +
		"manifest-src 'self'; " +
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// ParseOrigin validates an origin given by an operator, such as "https://upload.example.org" or
// "http://127.0.0.1:5280", and returns it in canonical form (lower case, default port dropped).
// Only scheme, host and port are accepted: the result goes into a CSP header as it is, so
// anything else (paths, wildcards, quotes, separators) is refused rather than escaped.
func ParseOrigin(s string) (string, error) {
	scheme, rest, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return "", fmt.Errorf("origin %q: want http:// or https:// followed by host[:port]", s)
	}
	host, port := rest, ""
	if h, p, err := net.SplitHostPort(rest); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]") {
		host = rest[1 : len(rest)-1]
	}
	// SplitHostPort also unwraps brackets: whatever was in them must be an IPv6 literal.
	bracketed := strings.HasPrefix(rest, "[")
	switch {
	case host == "":
		return "", fmt.Errorf("origin %q: no host", s)
	case bracketed || strings.Contains(host, ":"):
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return "", fmt.Errorf("origin %q: want scheme://host[:port] and nothing else", s)
		}
		host = "[" + host + "]"
	case !validHostname(host):
		return "", fmt.Errorf("origin %q: want scheme://host[:port] and nothing else", s)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return "", fmt.Errorf("origin %q: bad port", s)
		}
		if (scheme == "http" && n == 80) || (scheme == "https" && n == 443) {
			port = ""
		}
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// validHostname reports whether h is a DNS name or IPv4 address: letters, digits, '-' and dots
// between non-empty labels.
func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// ServiceWorkerPath is the app's service worker, allowed to control every path of the origin.
const ServiceWorkerPath = "/static/sw.js"

// encodings lists the precompressed variants in order of preference.
var encodings = []struct {
	name, ext string
}{
	{"br", ".br"},
	{"gzip", ".gz"},
}

// contentTypes overrides the platform MIME table for the types the client depends on: a
// worker or module script with the wrong type does not run, and streaming Wasm compilation
// needs application/wasm.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".wasm":        "application/wasm",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".txt":         "text/plain; charset=utf-8",
}

// representation is one encoding of one asset.
type representation struct {
	data []byte
	etag string
}

// asset is one servable path with its identity representation and precompressed variants.
type asset struct {
	contentType string
	html        bool
	identity    representation
	encoded     map[string]representation // by Content-Encoding
}

// Handler serves the files of an fs.FS. Build one with New; it is safe for concurrent use.
type Handler struct {
	assets        map[string]*asset // by URL path
	uploadOrigins []string
	csp           string // sent with HTML pages
}

// New reads every file of fsys once, computing ETags up front so requests never hash.
// Files named x.br or x.gz next to a file x become x's encoded variants and are not served
// on their own.
func New(fsys fs.FS, opts ...Option) (*Handler, error) {
	h := &Handler{assets: map[string]*asset{}}
	for _, o := range opts {
		o(h)
	}
	for i, o := range h.uploadOrigins {
		c, err := ParseOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("web: upload origins: %w", err)
		}
		h.uploadOrigins[i] = c
	}
	h.csp = CSP(h.uploadOrigins)
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files[p] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: read assets: %w", err)
	}
	for p, b := range files {
		if isVariant(p, files) {
			continue
		}
		a := &asset{
			contentType: contentType(p),
			html:        path.Ext(p) == ".html",
			identity:    newRepresentation(b, ""),
		}
		for _, enc := range encodings {
			if vb, ok := files[p+enc.ext]; ok {
				if a.encoded == nil {
					a.encoded = map[string]representation{}
				}
				a.encoded[enc.name] = newRepresentation(vb, enc.name)
			}
		}
		h.assets["/"+p] = a
	}
	if a, ok := h.assets["/index.html"]; ok {
		h.assets["/"] = a
	}
	return h, nil
}

// isVariant reports whether p is the precompressed sibling of another file.
func isVariant(p string, files map[string][]byte) bool {
	for _, enc := range encodings {
		if base, ok := strings.CutSuffix(p, enc.ext); ok {
			if _, exists := files[base]; exists {
				return true
			}
		}
	}
	return false
}

func newRepresentation(b []byte, encoding string) representation {
	sum := sha256.Sum256(b)
	tag := base64.RawURLEncoding.EncodeToString(sum[:18])
	if encoding != "" {
		// Distinct tags per encoding keep the ETag strong: the bytes differ.
		tag += "-" + encoding
	}
	return representation{data: b, etag: strconv.Quote(tag)}
}

func contentType(p string) string {
	ext := strings.ToLower(path.Ext(p))
	if ct, ok := contentTypes[ext]; ok {
		return ct
	}
	if ct := mime.TypeByExtension(ext); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a, ok := h.assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	// Assets are not fingerprinted: let caches keep them but always revalidate by ETag.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if a.html {
		hdr.Set("Content-Security-Policy", h.csp)
	}
	if r.URL.Path == ServiceWorkerPath {
		// The service worker lives in static/ but must control the whole app, index.html included.
		hdr.Set("Service-Worker-Allowed", "/")
	}
	rep := a.identity
	if a.encoded != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if enc := negotiate(r.Header.Values("Accept-Encoding"), a.encoded); enc != "" {
			rep = a.encoded[enc]
			hdr.Set("Content-Encoding", enc)
		}
	}
	hdr.Set("ETag", rep.etag)
	// ServeContent answers If-None-Match with 304, HEAD, and Range requests.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(rep.data))
}

// negotiate picks the most preferred available encoding the client accepts (RFC 9110 §12.5.3),
// or "" for identity. Our preference (br over gzip) decides between equally weighted codings.
func negotiate(header []string, available map[string]representation) string {
	q := map[string]float64{}
	star, hasStar := 0.0, false
	for _, line := range header {
		for _, part := range strings.Split(line, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			if name == "x-gzip" { // RFC 9110 §8.4.1.3: a recipient should treat it as gzip
				name = "gzip"
			}
			weight := 1.0
			for _, p := range strings.Split(params, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
						weight = f
					} else {
						weight = 0 // an unreadable weight is not a yes
					}
				}
			}
			if name == "*" {
				star, hasStar = weight, true
			} else {
				q[name] = weight
			}
		}
	}
	best, bestQ := "", 0.0
	for _, enc := range encodings {
		if _, ok := available[enc.name]; !ok {
			continue
		}
		w, ok := q[enc.name]
		if !ok && hasStar {
			w, ok = star, true
		}
		if ok && w > bestQ {
			best, bestQ = enc.name, w
		}
	}
	return best
}
