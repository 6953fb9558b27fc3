// Package sparkweb holds the web assets the relay serves, embedded so that one binary carries
// the page, the web components, the worker and the compiled engine.
package sparkweb

import (
	"embed"
	"io/fs"
)

// The Makefile builds static/engine.wasm (and its .br/.gz) before the relay, so the binary
// embeds the engine it was built with.
//
//go:embed index.html webcomponents/*.js static
var assets embed.FS

// Assets returns the embedded files at their repository paths: index.html, webcomponents/…,
// static/….
func Assets() fs.FS { return assets }
