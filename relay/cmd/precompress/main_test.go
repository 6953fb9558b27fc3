package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestPrecompress(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "engine.wasm")
	data := bytes.Repeat([]byte("\x00asm some wasm-ish bytes "), 4000)
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := precompress(name); err != nil {
		t.Fatal(err)
	}
	readers := map[string]func(io.Reader) (io.Reader, error){
		".br": func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil },
		".gz": func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
	}
	for ext, newReader := range readers {
		comp, err := os.ReadFile(name + ext)
		if err != nil {
			t.Fatal(err)
		}
		if len(comp) >= len(data)/10 {
			t.Errorf("%s: %d bytes from %d, hardly compressed", ext, len(comp), len(data))
		}
		r, err := newReader(bytes.NewReader(comp))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s does not decode to the input", ext)
		}
	}
	// Deterministic output: running again yields the same bytes.
	first, _ := os.ReadFile(name + ".gz")
	if err := precompress(name); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(name + ".gz")
	if !bytes.Equal(first, second) {
		t.Error("gzip output differs between runs")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("directory holds %d entries, want the file and two variants (no temp files)", len(entries))
	}
}

func TestPrecompressMissingFile(t *testing.T) {
	if err := precompress(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("no error for a missing file")
	}
}
