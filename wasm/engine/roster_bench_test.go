package engine

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"testing"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// rosterXML is a roster result of n contacts as a server sends it.
func rosterXML(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`<query xmlns="jabber:iq:roster" ver="v1">`)
	for i := range n {
		fmt.Fprintf(&b, `<item jid="contact%05d@example.org" name="Contact Number %d" subscription="both"><group>Group %d</group></item>`, i, i, i%40)
	}
	b.WriteString(`</query>`)
	return b.Bytes()
}

// emitted records what the engine emits, by event.
type emitted struct {
	events []protocol.Roster
	sizes  []int
}

func (r *emitted) emit(_ string, msg []byte) {
	var ev struct {
		Event string          `json:"event"`
		Data  protocol.Roster `json:"data"`
	}
	_ = json.Unmarshal(msg, &ev)
	if ev.Event == "roster" {
		r.events = append(r.events, ev.Data)
		r.sizes = append(r.sizes, len(msg))
	}
}

// TestRosterChunks checks a large roster goes out in chunks that add up to it, first full,
// every one but the last with more.
func TestRosterChunks(t *testing.T) {
	tests := []struct{ n, events int }{{0, 1}, {1, 1}, {500, 1}, {501, 2}, {1234, 3}}
	for _, tt := range tests {
		rec := &emitted{}
		e := New(Config{Emit: rec.emit})
		var q rosterQuery
		if err := xml.Unmarshal(rosterXML(tt.n), &q); err != nil {
			t.Fatal(err)
		}
		e.mu.Lock()
		e.setRosterLocked(q)
		e.mu.Unlock()
		if len(rec.events) != tt.events {
			t.Fatalf("%d contacts: %d events, want %d", tt.n, len(rec.events), tt.events)
		}
		seen := map[string]bool{}
		for i, ev := range rec.events {
			if ev.Full != (i == 0) || ev.More != (i < len(rec.events)-1) || len(ev.Items) > rosterChunk {
				t.Errorf("%d contacts, event %d: full=%v more=%v items=%d", tt.n, i, ev.Full, ev.More, len(ev.Items))
			}
			for _, it := range ev.Items {
				seen[it.JID] = true
			}
		}
		if len(seen) != tt.n {
			t.Errorf("%d contacts: events carry %d distinct", tt.n, len(seen))
		}
	}
}

// BenchmarkRoster5000 measures what a roster of 5,000 contacts costs the worker: decoding the
// server's answer, building the state and emitting it to the tabs as JSON (and handing it to
// the persister).
func BenchmarkRoster5000(b *testing.B) {
	raw := rosterXML(5000)
	var total, largest, events int
	e := New(Config{Emit: func(tab string, msg []byte) {
		total += len(msg)
		largest = max(largest, len(msg))
		events++
	}})
	b.ReportAllocs()
	for b.Loop() {
		var q rosterQuery
		if err := xml.Unmarshal(raw, &q); err != nil {
			b.Fatal(err)
		}
		e.mu.Lock()
		e.setRosterLocked(q)
		e.mu.Unlock()
	}
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
	b.ReportMetric(float64(total)/float64(b.N), "JSON-bytes/op")
	b.ReportMetric(float64(largest), "largest-event-bytes")
}

// BenchmarkRosterEmit5000 is the emitting part alone: the JSON sent to tabs for 5,000 contacts.
func BenchmarkRosterEmit5000(b *testing.B) {
	var q rosterQuery
	if err := xml.Unmarshal(rosterXML(5000), &q); err != nil {
		b.Fatal(err)
	}
	e := New(Config{Emit: func(string, []byte) {}})
	e.mu.Lock()
	e.setRosterLocked(q)
	items := e.st.rosterList()
	b.ReportAllocs()
	for b.Loop() {
		e.emitRosterLocked(items)
	}
	e.mu.Unlock()
}

// BenchmarkSnapshot5000 is what a tab attaching to an engine with 5,000 contacts costs.
func BenchmarkSnapshot5000(b *testing.B) {
	var q rosterQuery
	if err := xml.Unmarshal(rosterXML(5000), &q); err != nil {
		b.Fatal(err)
	}
	e := New(Config{Emit: func(string, []byte) {}})
	e.mu.Lock()
	e.setRosterLocked(q)
	e.mu.Unlock()
	size := 0
	b.ReportAllocs()
	for b.Loop() {
		msg, err := json.Marshal(e.Snapshot())
		if err != nil {
			b.Fatal(err)
		}
		size = len(msg)
	}
	b.ReportMetric(float64(size), "JSON-bytes")
}
