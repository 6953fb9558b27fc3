package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// module is what the size breakdown needs from a WebAssembly binary.
type module struct {
	// sections maps a section's name ("code", "data", "custom:name", ...) to its size in bytes.
	sections map[string]int
	// funcSizes are the body sizes of the module's own functions, by function index.
	funcSizes map[uint32]int
	// names are the function names of the "name" custom section, by function index.
	names map[uint32]string
}

var sectionNames = map[byte]string{
	1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global",
	7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "datacount",
}

// parseModule reads the sections of a WebAssembly binary (spec §5.5) far enough to size every
// function body and name it.
func parseModule(b []byte) (*module, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return nil, errors.New("not a WebAssembly binary")
	}
	m := &module{sections: map[string]int{}, funcSizes: map[uint32]int{}, names: map[uint32]string{}}
	r := &reader{b: b, off: 8}
	var imported uint32
	for r.off < len(r.b) {
		id := r.byte()
		size := int(r.u32())
		if r.err != nil || size > len(r.b)-r.off {
			return nil, fmt.Errorf("section at offset %d: truncated", r.off)
		}
		body := &reader{b: r.b[r.off : r.off+size]}
		r.off += size
		name := sectionNames[id]
		switch id {
		case 0:
			name = "custom:" + body.name()
			if name == "custom:name" {
				m.parseNames(body)
			}
		case 2:
			imported = countFuncImports(body)
		case 10:
			n := body.u32()
			for i := uint32(0); i < n && body.err == nil; i++ {
				sz := int(body.u32())
				m.funcSizes[imported+i] = sz
				body.off += sz
			}
		}
		if body.err != nil {
			return nil, fmt.Errorf("%s section: %w", name, body.err)
		}
		m.sections[name] += size
	}
	return m, r.err
}

// countFuncImports counts imported functions: they come first in the function index space.
func countFuncImports(r *reader) uint32 {
	var funcs uint32
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.name() // module
		r.name() // field
		switch kind := r.byte(); kind {
		case 0: // function: type index
			r.u32()
			funcs++
		case 1: // table: reftype, limits
			r.byte()
			r.limits()
		case 2: // memory: limits
			r.limits()
		case 3: // global: valtype, mutability
			r.byte()
			r.byte()
		default:
			r.err = fmt.Errorf("import kind %d", kind)
		}
	}
	return funcs
}

// parseNames reads the function-names subsection (id 1) of the "name" section.
func (m *module) parseNames(r *reader) {
	for r.off < len(r.b) && r.err == nil {
		id := r.byte()
		size := int(r.u32())
		if r.err != nil || size > len(r.b)-r.off {
			return
		}
		if id == 1 {
			sub := &reader{b: r.b[r.off : r.off+size]}
			n := sub.u32()
			for i := uint32(0); i < n && sub.err == nil; i++ {
				idx := sub.u32()
				m.names[idx] = sub.name()
			}
		}
		r.off += size
	}
}

// reader decodes LEB128 integers and names, remembering the first error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) byte() byte {
	if r.off >= len(r.b) {
		r.fail()
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail()
	return 0
}

func (r *reader) name() string {
	n := int(r.u32())
	if r.err != nil || n > len(r.b)-r.off {
		r.fail()
		return ""
	}
	s := string(r.b[r.off : r.off+n])
	r.off += n
	return s
}

func (r *reader) limits() {
	if r.byte()&1 == 1 {
		r.u32()
	}
	r.u32()
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errors.New("truncated")
	}
	r.off = len(r.b)
}

// pkgIndex maps the names the linker gives packages in the wasm "name" section back to their
// import paths. The linker writes '/' (and the punctuation of method receivers) as '_', e.g.
// "mellium.im_xmpp_stanza.__Error_.UnmarshalXML", which cannot be split reliably on its own, so
// the paths come from `go list -deps` of the same build.
type pkgIndex map[string]string

func newPkgIndex(paths []string) pkgIndex {
	idx := pkgIndex{}
	for _, p := range paths {
		idx[strings.ReplaceAll(p, "/", "_")] = p
	}
	return idx
}

// packageOf returns the import path of the package a function belongs to: the longest known
// package name followed by '.' at the start of sym, or "(generated)" for functions of no
// package (method wrappers of unnamed types, wasm glue).
func (idx pkgIndex) packageOf(sym string) string {
	best := "(generated)"
	for i := 0; i < len(sym); i++ {
		if sym[i] == '.' {
			if p, ok := idx[sym[:i]]; ok {
				best = p
			}
		}
	}
	return best
}

// moduleOf groups a package into its Go module for the summary: the standard library, or the
// module path (two or three path elements, as hosts lay them out).
func moduleOf(pkg string) string {
	first, _, _ := strings.Cut(pkg, "/")
	switch {
	case strings.HasPrefix(pkg, "("):
		return pkg
	case first == "vendor" || !strings.Contains(first, "."):
		return "Go standard library"
	case strings.HasPrefix(pkg, "golang.org/x/"), strings.HasPrefix(pkg, "github.com/"):
		parts := strings.SplitN(pkg, "/", 4)
		return strings.Join(parts[:min(3, len(parts))], "/")
	default:
		parts := strings.SplitN(pkg, "/", 3)
		return strings.Join(parts[:min(2, len(parts))], "/")
	}
}
