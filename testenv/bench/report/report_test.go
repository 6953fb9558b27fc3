package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchLines(t *testing.T) {
	out := benchLines(`goos: linux
pkg: example.org/a
BenchmarkX-2   	 100	 12 ns/op	 0 B/op
PASS
pkg: example.org/b
BenchmarkY/sub-2 5 7 ns/op
BenchmarkBroken
`)
	want := []string{
		"| `example.org/a` | `BenchmarkX-2` | 12 ns/op 0 B/op |",
		"| `example.org/b` | `BenchmarkY/sub-2` | 7 ns/op |",
	}
	if strings.Join(out, "\n") != strings.Join(want, "\n") {
		t.Errorf("benchLines =\n%s\nwant\n%s", strings.Join(out, "\n"), strings.Join(want, "\n"))
	}
}

// sample is a small but complete set of results, in the drivers' JSON.
const sampleRelay = `{"paths":[{"name":"direct to Prosody","pings":10,"p50ms":0.1,"p99ms":1,"messages":100,"messagesPerS":6000},
{"name":"nginx proxy","pings":10,"p50ms":0.12,"p99ms":1.1,"messages":100,"messagesPerS":5900},
{"name":"SparkWeb relay","pings":10,"p50ms":0.14,"p99ms":1.3,"messages":100,"messagesPerS":6000}],
"memory":[{"sessions":1000,"relayKiBPerConn":80,"relayRSSMiB":120,"prosodyKiBPerConn":35,"openSeconds":9}],
"memoryNote":"10000 sessions cannot be held here",
"cpu":[{"name":"nginx proxy","rate":2000,"corePctPer1k":1,"prosodyCorePctPer1k":20},{"name":"SparkWeb relay","rate":2000,"corePctPer1k":3,"prosodyCorePctPer1k":20}]}`

const sampleBrowser = `{"chromium":"156","slowLink":{"rttMs":100,"mbitPerS":10},
"startup":[{"client":"SparkWeb","link":"loopback","cold":900,"coldForm":300,"warm":700,"second":200,"runs":3,"notes":["warm: signed in without the form"]},
{"client":"Converse.js","link":"loopback","cold":1000,"coldForm":600,"warm":800,"second":1000,"runs":3},
{"client":"SparkWeb","link":"slow","cold":4600,"coldForm":500,"warm":2300,"second":500,"coldBytes":2500000,"runs":3},
{"client":"Converse.js","link":"slow","cold":2100,"coldForm":900,"warm":1700,"second":1800,"coldBytes":400000,"runs":3}],
"tabToTab":{"messages":500,"perS":50}}`

func sampleInputs(t *testing.T) inputs {
	t.Helper()
	var in inputs
	for raw, v := range map[string]any{sampleRelay: &in.relay, sampleBrowser: &in.browser,
		`{"raw":13000000,"gzip":3400000,"brotli":2400000,"code":8000000,"data":4700000,
		"budget":[{"what":"brotli","max":2300000,"actual":2400000,"ok":false}],
		"packages":[{"name":"runtime","bytes":1100000}],"modules":[{"name":"Go standard library","bytes":6800000}]}`: &in.size} {
		if err := json.Unmarshal([]byte(raw), v); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

func TestRender(t *testing.T) {
	in := sampleInputs(t)
	var buf bytes.Buffer
	render(&buf, in)
	doc := buf.String()
	for _, want := range []string{
		"| SparkWeb relay | 10 | 0.140 ms | 1.300 ms | 1.40× |",   // ratio against the direct path
		"10000 sessions cannot be held here",                      // the capacity note is kept
		"| brotli | 2.29 MiB (2400000) | 2.19 MiB | **over** |",   // a broken budget shows
		"**Second tab** (SparkWeb leads): 200 ms against 1000 ms", // reading from the figures
		"SparkWeb trails Converse.js here (2.19× its time)",       // slow-link cold start
		"120× below the 6000 messages/s",                          // tab→tab against the relay path
		"not measured in this run (testenv/bench/browser/roster.mjs left no results)",
		"%!", // must NOT appear: see below
	} {
		has := strings.Contains(doc, want)
		if want == "%!" {
			if has {
				t.Errorf("a format verb went wrong:\n%s", doc)
			}
			continue
		}
		if !has {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestRenderScale(t *testing.T) {
	in := sampleInputs(t)
	if err := json.Unmarshal([]byte(`{"contacts":5000,"runs":3,"dataToFirstRenderMs":31.6,"dataToCompleteMs":78.6,
		"secondTabFirstRenderMs":138.3,"secondTabLargestTaskMs":21,"wheelLargestTaskMs":22.8,"jumpLargestTaskMs":22.4,
		"scrollLongTasks":0,"rowsInDOM":23,"load1":7.4,"reachedEnd":true}`), &in.scale); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	render(&buf, in)
	doc := buf.String()
	for _, want := range []string{
		"## Scale",
		"| first tab: roster data arrives → first contacts rendered | 32 ms |",
		"| scrolling, wheel flick (150 × 400 px, one per frame): largest task | 23 ms |",
		"| rows in the DOM after scrolling | 23 |",
		"(load average during\nthe run: 7.4)",
		"**Roster at scale**: with 5000 contacts",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(doc, "not measured in this run") || strings.Contains(doc, "%!") {
		t.Errorf("scale figures rendered wrongly:\n%s", doc)
	}
}

func TestReadingWithoutBrowserResults(t *testing.T) {
	in := sampleInputs(t)
	in.browser = browserResults{}
	for _, s := range reading(in) {
		if strings.Contains(s, "Converse") {
			t.Errorf("reading compares with Converse.js without figures: %s", s)
		}
	}
}

// TestRenderRoomJoin checks the room benchmark's figures become their own table and reading,
// and that a run without them says so.
func TestRenderRoomJoin(t *testing.T) {
	in := sampleInputs(t)
	micro := "pkg: github.com/sparkweb/sparkweb/wasm/engine\n" +
		"BenchmarkRoomJoin1000-2   \t      15\t 124365965 ns/op\t         7.000 events/join\t     93087 largest-event-B\t      3955 max-lock-µs\t 8691060 B/op\t  148221 allocs/op\n"
	in.micro = benchLines(micro)
	in.roomJoin = benchMetrics(micro, "BenchmarkRoomJoin1000")
	var buf bytes.Buffer
	render(&buf, in)
	doc := buf.String()
	for _, want := range []string{
		"## Room of 1,000 occupants",
		"| `muc.join` → whole occupant list at the tabs | 124 ms |",
		"| longest the engine held its state lock meanwhile | 4.0 ms |",
		"| events to the tabs per join | 7 |",
		"| largest event (one `occupants` chunk of 500) | 91 KiB |",
		"**Room at scale**: joining a room of 1,000 occupants takes 124 ms",
		"| `github.com/sparkweb/sparkweb/wasm/engine` | `BenchmarkRoomJoin1000-2` | 124365965 ns/op",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(doc, "%!") {
		t.Errorf("a format verb went wrong:\n%s", doc)
	}

	in.roomJoin = benchMetrics("BenchmarkRoomJoin10-2 1 5 ns/op\n", "BenchmarkRoomJoin1000")
	buf.Reset()
	render(&buf, in)
	if in.roomJoin != nil || strings.Contains(buf.String(), "## Room of 1,000 occupants") {
		t.Errorf("a run without BenchmarkRoomJoin1000 rendered its table (metrics %v)", in.roomJoin)
	}
}
