// Command report renders the results of `make bench` (the JSON of relaybench, wasmsize and the
// browser bench, and the output of the Go micro-benchmarks) as docs/benchmarks.md, with the
// machine, the date, and a short reading of the figures.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// The shapes below mirror what the drivers write; only the fields the report uses.

type relayResults struct {
	Paths []struct {
		Name         string  `json:"name"`
		Pings        int     `json:"pings"`
		P50ms        float64 `json:"p50ms"`
		P99ms        float64 `json:"p99ms"`
		Messages     int     `json:"messages"`
		MessagesPerS float64 `json:"messagesPerS"`
	} `json:"paths"`
	Memory []struct {
		Sessions          int     `json:"sessions"`
		RelayKiBPerConn   float64 `json:"relayKiBPerConn"`
		RelayRSSMiB       float64 `json:"relayRSSMiB"`
		ProsodyKiBPerConn float64 `json:"prosodyKiBPerConn"`
		OpenSeconds       float64 `json:"openSeconds"`
	} `json:"memory"`
	MemoryNote string `json:"memoryNote"`
	CPU        []struct {
		Name                string  `json:"name"`
		Rate                float64 `json:"rate"`
		CorePctPer1k        float64 `json:"corePctPer1k"`
		ProsodyCorePctPer1k float64 `json:"prosodyCorePctPer1k"`
	} `json:"cpu"`
}

type share struct {
	Name  string `json:"name"`
	Bytes int    `json:"bytes"`
}

type sizeResults struct {
	Raw    int `json:"raw"`
	Gzip   int `json:"gzip"`
	Brotli int `json:"brotli"`
	Budget []struct {
		What   string `json:"what"`
		Max    int    `json:"max"`
		Actual int    `json:"actual"`
		OK     bool   `json:"ok"`
	} `json:"budget"`
	Code     int     `json:"code"`
	Data     int     `json:"data"`
	Packages []share `json:"packages"`
	Modules  []share `json:"modules"`
}

type startupRow struct {
	Client    string   `json:"client"`
	Link      string   `json:"link"`
	Cold      *float64 `json:"cold"`
	ColdForm  *float64 `json:"coldForm"`
	Warm      *float64 `json:"warm"`
	Second    *float64 `json:"second"`
	ColdBytes *float64 `json:"coldBytes"`
	Runs      int      `json:"runs"`
	Notes     []string `json:"notes"`
}

type browserResults struct {
	Chromium string `json:"chromium"`
	SlowLink struct {
		RTTms    float64 `json:"rttMs"`
		MbitPerS float64 `json:"mbitPerS"`
	} `json:"slowLink"`
	Startup  []startupRow `json:"startup"`
	TabToTab struct {
		Messages int     `json:"messages"`
		PerS     float64 `json:"perS"`
	} `json:"tabToTab"`
}

// scaleResults are the roster-at-scale figures of testenv/bench/browser/roster.mjs (medians).
type scaleResults struct {
	Contacts               int      `json:"contacts"`
	Runs                   int      `json:"runs"`
	DataToFirstRenderMs    *float64 `json:"dataToFirstRenderMs"`
	DataToCompleteMs       *float64 `json:"dataToCompleteMs"`
	SecondTabFirstRenderMs *float64 `json:"secondTabFirstRenderMs"`
	SecondTabLargestTaskMs *float64 `json:"secondTabLargestTaskMs"`
	WheelLargestTaskMs     *float64 `json:"wheelLargestTaskMs"`
	JumpLargestTaskMs      *float64 `json:"jumpLargestTaskMs"`
	ScrollLongTasks        *float64 `json:"scrollLongTasks"`
	RowsInDOM              *float64 `json:"rowsInDOM"`
	Load1                  *float64 `json:"load1"`
	ReachedEnd             bool     `json:"reachedEnd"`
}

func main() {
	dir := flag.String("results", "bench-results", "`dir` holding relay.json, size.json, browser.json and micro.txt")
	out := flag.String("out", "docs/benchmarks.md", "`file` to write")
	elapsed := flag.Duration("elapsed", 0, "how long `make bench` took, for the header")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	var in inputs
	for name, v := range map[string]any{"relay.json": &in.relay, "size.json": &in.size, "browser.json": &in.browser} {
		b, err := os.ReadFile(*dir + "/" + name)
		if err != nil {
			log.Error("report: a driver left no results", "file", name, "err", err)
			os.Exit(1)
		}
		if err := json.Unmarshal(b, v); err != nil {
			log.Error("report: bad results", "file", name, "err", err)
			os.Exit(1)
		}
	}
	// Optional: a run without the roster driver reports the roster as not measured.
	if b, err := os.ReadFile(*dir + "/scale.json"); err == nil {
		if err := json.Unmarshal(b, &in.scale); err != nil {
			log.Error("report: bad results", "file", "scale.json", "err", err)
			os.Exit(1)
		}
	}
	micro, err := os.ReadFile(*dir + "/micro.txt")
	if err != nil {
		log.Error("report: no micro-benchmark output", "err", err)
		os.Exit(1)
	}
	in.micro = benchLines(string(micro))
	in.roomJoin = benchMetrics(string(micro), "BenchmarkRoomJoin1000")
	in.machine = probeMachine(in.browser.Chromium)
	in.elapsed = *elapsed

	var buf bytes.Buffer
	render(&buf, in)
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		log.Error("report: write", "err", err)
		os.Exit(1)
	}
}

type inputs struct {
	relay   relayResults
	size    sizeResults
	browser browserResults
	scale   scaleResults
	micro   []string
	machine machine
	elapsed time.Duration
	// roomJoin holds BenchmarkRoomJoin1000's figures by unit (ns/op, max-lock-µs, ...), nil
	// when it did not run.
	roomJoin map[string]float64
}

type machine struct {
	CPU                          string
	Cores                        int
	Go, Chromium, Prosody, Nginx string
	Date                         string
}

func probeMachine(chromium string) machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Chromium: chromium,
		Date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	// prosody --version can wait on a terminal; the package version is what was installed.
	m.Prosody = output("dpkg-query", "-W", "-f=${Version}", "prosody")
	m.Nginx = strings.TrimPrefix(output("nginx", "-v"), "nginx version: ")
	return m
}

func output(name string, args ...string) string {
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// benchMetrics returns the figures of benchmark name (any -N suffix) by unit, from the first
// result line of `go test -bench` output that has it, or nil.
func benchMetrics(s, name string) map[string]float64 {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || (f[0] != name && !strings.HasPrefix(f[0], name+"-")) {
			continue
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			var v float64
			if _, err := fmt.Sscan(f[i], &v); err == nil {
				m[f[i+1]] = v
			}
		}
		return m
	}
	return nil
}

// benchLines keeps the result lines of `go test -bench` output, with the package they belong to.
func benchLines(s string) []string {
	var out []string
	pkg := ""
	for _, line := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(line, "pkg: ")
		case strings.HasPrefix(line, "Benchmark"):
			f := strings.Fields(line)
			if len(f) >= 4 {
				out = append(out, fmt.Sprintf("| `%s` | `%s` | %s |", pkg, f[0], strings.Join(f[2:], " ")))
			}
		}
	}
	return out
}
