// Command wasmsize measures the engine's download: static/engine.wasm raw, gzip and brotli (at
// the levels the relay precompresses with), checks them against testenv/bench/budget, and
// attributes the code to Go packages.
//
// The shipped binary is stripped (-s -w), so the breakdown comes from a second build of the same
// package without -s -w: its code section is the same, and its "name" section names every
// function. Function bodies are summed per package; the data section (read-only data, type
// descriptors, the pc tables Go needs for stacks and GC) is shown as one row, because the
// linker lays it out without per-package boundaries.
//
// It writes JSON for testenv/bench/report and exits with status 3 when a budget is exceeded,
// after writing the results.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
)

// Results is what wasmsize writes.
type Results struct {
	Raw    int `json:"raw"`
	Gzip   int `json:"gzip"`
	Brotli int `json:"brotli"`
	// Budget holds the limits of the budget file and whether each held.
	Budget []BudgetLine `json:"budget"`
	// Code and Data are the code and data section sizes.
	Code int `json:"code"`
	Data int `json:"data"`
	// Packages are the largest packages by code bytes; Modules group all of them.
	Packages []Share `json:"packages"`
	Modules  []Share `json:"modules"`
}

// BudgetLine is one limit from the budget file.
type BudgetLine struct {
	What   string `json:"what"`
	Max    int    `json:"max"`
	Actual int    `json:"actual"`
	OK     bool   `json:"ok"`
}

// Share is the code bytes of a package or module.
type Share struct {
	Name  string `json:"name"`
	Bytes int    `json:"bytes"`
}

func main() {
	wasm := flag.String("wasm", "static/engine.wasm", "the shipped engine `file`")
	pkg := flag.String("pkg", "./wasm/cmd/engine", "the engine's main `package`, rebuilt with symbols")
	budget := flag.String("budget", "testenv/bench/budget", "budget `file`")
	out := flag.String("out", "size.json", "`file` to write the results to")
	top := flag.Int("top", 15, "packages to list")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	res, err := measure(ctx, *wasm, *pkg, *top)
	if err == nil {
		err = checkBudget(*budget, res)
	}
	if err != nil {
		log.Error("wasmsize", "err", err)
		os.Exit(1)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		log.Error("wasmsize: write results", "err", err)
		os.Exit(1)
	}
	for _, l := range res.Budget {
		if !l.OK {
			log.Error("size budget exceeded", "what", l.What, "bytes", l.Actual, "budget", l.Max, "file", *budget)
			defer os.Exit(3)
		}
	}
}

func measure(ctx context.Context, wasmPath, pkg string, top int) (*Results, error) {
	raw, err := os.ReadFile(wasmPath)
	if err != nil {
		return nil, fmt.Errorf("read the engine (run make first): %w", err)
	}
	res := &Results{Raw: len(raw)}
	var wg sync.WaitGroup
	var gzErr, brErr error
	wg.Go(func() {
		res.Gzip, gzErr = compressedSize(raw, func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriterLevel(w, gzip.BestCompression) })
	})
	wg.Go(func() {
		res.Brotli, brErr = compressedSize(raw, func(w io.Writer) (io.WriteCloser, error) {
			return brotli.NewWriterLevel(w, brotli.BestCompression), nil
		})
	})

	sym, err := os.CreateTemp("", "engine-symbols-*.wasm")
	if err != nil {
		return nil, err
	}
	sym.Close()
	defer os.Remove(sym.Name())
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", sym.Name(), pkg)
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s with symbols: %w\n%s", pkg, err, out)
	}
	b, err := os.ReadFile(sym.Name())
	if err != nil {
		return nil, err
	}
	m, err := parseModule(b)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", sym.Name(), err)
	}
	list := exec.CommandContext(ctx, "go", "list", "-deps", pkg)
	list.Env = build.Env
	paths, err := list.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s: %w", pkg, err)
	}
	known := newPkgIndex(strings.Fields(string(paths)))
	res.Code, res.Data = m.sections["code"], m.sections["data"]
	pkgs, mods := map[string]int{}, map[string]int{}
	for idx, size := range m.funcSizes {
		p := known.packageOf(m.names[idx])
		pkgs[p] += size
		mods[moduleOf(p)] += size
	}
	res.Packages = sorted(pkgs)[:min(top, len(pkgs))]
	res.Modules = sorted(mods)
	wg.Wait()
	if gzErr != nil || brErr != nil {
		return nil, fmt.Errorf("compress: gzip %v, brotli %v", gzErr, brErr)
	}
	return res, nil
}

func compressedSize(b []byte, newWriter func(io.Writer) (io.WriteCloser, error)) (int, error) {
	var buf bytes.Buffer
	w, err := newWriter(&buf)
	if err != nil {
		return 0, err
	}
	if _, err := w.Write(b); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return buf.Len(), nil
}

func sorted(m map[string]int) []Share {
	var s []Share
	for k, v := range m {
		s = append(s, Share{k, v})
	}
	slices.SortFunc(s, func(a, b Share) int {
		if a.Bytes != b.Bytes {
			return b.Bytes - a.Bytes
		}
		return strings.Compare(a.Name, b.Name)
	})
	return s
}

// checkBudget reads "WHAT MAX-BYTES" lines (WHAT: raw, gzip or brotli; # starts a comment) and
// records each against res.
func checkBudget(path string, res *Results) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("budget: %w", err)
	}
	defer f.Close()
	actual := map[string]int{"raw": res.Raw, "gzip": res.Gzip, "brotli": res.Brotli}
	lines, err := parseBudget(f, actual)
	if err != nil {
		return fmt.Errorf("budget %s: %w", path, err)
	}
	res.Budget = lines
	return nil
}

func parseBudget(r io.Reader, actual map[string]int) ([]BudgetLine, error) {
	var lines []BudgetLine
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want WHAT MAX-BYTES, got %q", n, sc.Text())
		}
		got, ok := actual[f[0]]
		if !ok {
			return nil, fmt.Errorf("line %d: unknown %q (want raw, gzip or brotli)", n, f[0])
		}
		max, err := strconv.Atoi(f[1])
		if err != nil || max <= 0 {
			return nil, fmt.Errorf("line %d: %q is not a positive byte count", n, f[1])
		}
		lines = append(lines, BudgetLine{What: f[0], Max: max, Actual: got, OK: got <= max})
	}
	return lines, sc.Err()
}
