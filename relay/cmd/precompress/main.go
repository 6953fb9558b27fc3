// Command precompress writes FILE.br (brotli, quality 11) and FILE.gz (gzip, best compression)
// next to each FILE it is given, so the relay can serve them without compressing per request.
//
//	go run ./relay/cmd/precompress static/engine.wasm
package main

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/andybalholm/brotli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: precompress FILE...")
		os.Exit(2)
	}
	for _, name := range os.Args[1:] {
		if err := precompress(name); err != nil {
			fmt.Fprintln(os.Stderr, "precompress:", err)
			os.Exit(1)
		}
	}
}

// precompress writes name.br and name.gz.
func precompress(name string) error {
	in, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if err := writeCompressed(name+".br", in, func(w io.Writer) (io.WriteCloser, error) {
		return brotli.NewWriterLevel(w, brotli.BestCompression), nil
	}); err != nil {
		return err
	}
	return writeCompressed(name+".gz", in, func(w io.Writer) (io.WriteCloser, error) {
		// No name or mtime in the header: the output depends on the input only.
		return gzip.NewWriterLevel(w, gzip.BestCompression)
	})
}

// writeCompressed writes data through a compressor to a temporary file and renames it into
// place, so a build interrupted halfway never leaves a truncated variant to be served.
func writeCompressed(dst string, data []byte, newWriter func(io.Writer) (io.WriteCloser, error)) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	cw, err := newWriter(tmp)
	if err != nil {
		return fmt.Errorf("%s: %w", dst, err)
	}
	if _, err := cw.Write(data); err != nil {
		return fmt.Errorf("%s: %w", dst, err)
	}
	if err := errors.Join(cw.Close(), tmp.Chmod(0o644), tmp.Close()); err != nil {
		return fmt.Errorf("%s: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	return nil
}
