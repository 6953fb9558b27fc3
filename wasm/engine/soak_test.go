package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sparkweb/sparkweb/relay/server"
	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/engine"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

const soakMessages = 500 // per direction

// TestSoak has two users exchange 1,000 messages while every kind of failure is forced on both
// sides: a client's WebSocket closed, a client's network down, the relay's upstream cut, the XMPP
// server restarted. At the end each user has every message of the other exactly once, and the
// server's archive holds each conversation in the order it was written.
func TestSoak(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{})
	p.AddUser(t, "alice", "alice-pw")
	p.AddUser(t, "bob", "bob-pw")
	p.Befriend(t, "alice", "bob")
	ws, err := url.Parse(p.WebSocketURL)
	if err != nil {
		t.Fatal(err)
	}
	upstream := newFaultProxy(t, ws.Host)
	srv, err := server.New(context.Background(), server.Config{
		Upstream: "ws://" + strings.TrimPrefix(upstream.URL(), "http://") + ws.Path,
		Domain:   p.Domain,
		Logger:   slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	relay := httptest.NewServer(srv.Handler())
	t.Cleanup(relay.Close)

	type side struct {
		name  string
		net   *faultProxy
		e     *engine.Engine
		tab   *recorder
		peer  string
		label string
	}
	sides := []*side{{name: "alice", peer: "bob@localhost", label: "a"}, {name: "bob", peer: "alice@localhost", label: "b"}}
	for _, s := range sides {
		s.net = newFaultProxy(t, strings.TrimPrefix(relay.URL, "http://"))
		s.tab = newRecorder()
		s.e = engine.New(engine.Config{RelayURL: s.net.URL(), Emit: s.tab.emit})
		t.Cleanup(s.e.Close)
		do(t, s.e, "session.login", map[string]string{"jid": s.name + "@localhost", "password": s.name + "-pw", "resource": "soak"})
	}

	// Writers: each side sends its messages in bursts while the faults happen.
	var wg sync.WaitGroup
	for _, s := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range soakMessages {
				resp := s.e.Do(context.Background(), req("chat.send", map[string]string{"to": s.peer, "body": fmt.Sprintf("%s-%04d", s.label, i)}))
				if !resp.OK {
					t.Errorf("%s send %d: %v", s.name, i, resp.Error)
					return
				}
				if i%20 == 19 {
					time.Sleep(40 * time.Millisecond)
				}
			}
		}()
	}

	// Faults: at least three disconnects on each side, of every kind.
	kick := func() {
		for _, s := range sides {
			s.e.Do(context.Background(), req("session.reconnect", nil))
		}
	}
	outage := func(n *faultProxy) {
		n.Down()
		time.Sleep(300 * time.Millisecond)
		n.Up()
		kick()
	}
	faults := []struct {
		name string
		do   func()
	}{
		{"alice's WebSocket closed", sides[0].e.DropConnection},
		{"bob's network down", func() { outage(sides[1].net) }},
		{"relay upstream cut", func() { outage(upstream) }},
		{"bob's WebSocket closed", sides[1].e.DropConnection},
		{"alice's network down", func() { outage(sides[0].net) }},
		{"XMPP server restarted", func() { p.Restart(t); kick() }},
		{"both WebSockets closed", func() { sides[0].e.DropConnection(); sides[1].e.DropConnection() }},
	}
	for _, f := range faults {
		time.Sleep(400 * time.Millisecond)
		t.Logf("fault: %s", f.name)
		f.do()
	}
	wg.Wait()

	// Everything arrives, once.
	deadline := time.Now().Add(90 * time.Second)
	for _, s := range sides {
		other := sides[0]
		if s == other {
			other = sides[1]
		}
		for {
			got := received(s.tab, other.label)
			if len(got) == soakMessages || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
			kick()
		}
		// Every event for an incoming message is a new message to show: count them raw.
		counts := map[string]int{}
		s.tab.mu.Lock()
		for _, raw := range s.tab.msgs {
			var ev string
			var m protocol.Message
			_ = json.Unmarshal(raw["event"], &ev)
			_ = json.Unmarshal(raw["data"], &m)
			if ev == "message" && !m.Outgoing && strings.HasPrefix(m.Body, other.label+"-") {
				counts[m.Body]++
			}
		}
		s.tab.mu.Unlock()
		var lost, dup int
		for i := range soakMessages {
			switch n := counts[fmt.Sprintf("%s-%04d", other.label, i)]; {
			case n == 0:
				lost++
			case n > 1:
				dup++
			}
		}
		// Each message also sits once in the receiver's conversation.
		inConv := map[string]int{}
		for _, m := range s.e.Snapshot().Conversations[other.name+"@localhost"] {
			inConv[m.Body]++
		}
		for b, n := range inConv {
			if n > 1 {
				t.Errorf("%s's conversation holds %q %d times", s.name, b, n)
			}
		}
		t.Logf("%s received %d of %d messages from %s: %d lost, %d duplicated", s.name, len(counts), soakMessages, other.name, lost, dup)
		if lost != 0 || dup != 0 {
			t.Errorf("%s: %d lost, %d duplicated", s.name, lost, dup)
		}
	}

	// The archive holds each side's messages in the order they were written.
	for _, s := range sides {
		waitFor(t, func() bool { kick(); return s.e.Snapshot().Session.State == "online" })
		var bodies []string
		before := ""
		for page := 0; page < 100; page++ {
			var h protocol.History
			_ = json.Unmarshal(do(t, s.e, "chat.history", map[string]any{"with": s.peer, "before": before, "limit": 200}), &h)
			var b []string
			for _, m := range h.Messages {
				b = append(b, m.Body)
			}
			bodies = append(b, bodies...)
			if h.Complete || len(h.Messages) == 0 {
				break
			}
			before = h.Messages[0].StanzaID
		}
		last, copies := -1, 0
		seen := map[string]bool{}
		for _, b := range bodies {
			var n int
			if _, err := fmt.Sscanf(b, s.label+"-%04d", &n); err != nil {
				continue
			}
			if seen[b] {
				copies++ // resent after an unacknowledged send; receivers drop it by origin-id
				continue
			}
			seen[b] = true
			if n < last {
				t.Errorf("%s's archive has %s after %s-%04d", s.name, b, s.label, last)
			}
			last = n
		}
		t.Logf("%s's messages in the archive: %d distinct, %d resent copies", s.name, len(seen), copies)
		if len(seen) != soakMessages {
			t.Errorf("%s's archive holds %d of its %d messages", s.name, len(seen), soakMessages)
		}
	}
}

// received lists the distinct bodies with label's prefix that reached tab.
func received(tab *recorder, label string) map[string]bool {
	got := map[string]bool{}
	for _, m := range tab.messages() {
		if strings.HasPrefix(m.Body, label+"-") {
			got[m.Body] = true
		}
	}
	return got
}
