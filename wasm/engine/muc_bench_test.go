package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparkweb/sparkweb/wasm/engine"
)

// fillRoom puts n occupants into room from one XEP-0114 component connection (Prosody's
// push.<domain> component of the test config), so a room of a thousand takes one socket
// instead of a thousand logins. It returns once the room has handled every join; the
// connection stays open (the occupants stay) until the benchmark ends.
func fillRoom(b *testing.B, s stack, room string, n int) {
	b.Helper()
	domain := "push." + s.prosody.Domain
	secret := s.prosody.Env["PROSODY_COMPONENT_SECRET"]
	if secret == "" {
		secret = "push-secret"
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+s.prosody.Env["PROSODY_COMPONENT_PORT"])
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	fmt.Fprintf(conn, `<stream:stream xmlns="jabber:component:accept" xmlns:stream="http://etherx.jabber.org/streams" to="%s">`, domain)
	r := bufio.NewReader(conn)
	head := make([]byte, 0, 512)
	idRE := regexp.MustCompile(`\bid=['"]([^'"]+)['"]`)
	for !idRE.Match(head) || !bytes.Contains(head, []byte(">")) {
		c, err := r.ReadByte()
		if err != nil {
			b.Fatalf("component stream: %v (%s)", err, head)
		}
		head = append(head, c)
	}
	sum := sha1.Sum([]byte(string(idRE.FindSubmatch(head)[1]) + secret))
	fmt.Fprintf(conn, `<handshake>%s</handshake>`, hex.EncodeToString(sum[:]))

	// Everything the room sends back is read and dropped; the barrier's answer ends the fill.
	const barrier = "fill-barrier"
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		var tail []byte
		for {
			k, err := r.Read(buf)
			if err != nil {
				done <- err
				return
			}
			chunk := append(tail, buf[:k]...)
			if bytes.Contains(chunk, []byte(barrier)) && bytes.Contains(chunk, []byte("result")) {
				done <- nil
				_, _ = io.Copy(io.Discard, r)
				return
			}
			tail = append([]byte(nil), chunk[max(0, len(chunk)-64):]...)
		}
	}()
	w := bufio.NewWriter(conn)
	for i := range n {
		fmt.Fprintf(w, `<presence from="bot%d@%s/b" to="%s/Occupant %04d"><x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="0"/></x><status>here for the benchmark</status></presence>`, i, domain, room, i)
	}
	// A room handles one sender's stanzas in order: answering this, it has handled every join.
	fmt.Fprintf(w, `<iq type="get" id="%s" from="bot0@%s/b" to="%s"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`, barrier, domain, room)
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			b.Fatalf("filling the room: %v", err)
		}
	case <-time.After(5 * time.Minute):
		b.Fatal("filling the room took over 5 minutes")
	}
}

// BenchmarkRoomJoin1000 joins a room of 1,000 occupants on a real Prosody: the time from
// muc.join to the whole occupant list at the tabs, the longest the engine held its state lock
// meanwhile (how long a tab's request could be kept waiting), and the largest event.
func BenchmarkRoomJoin1000(b *testing.B) {
	const room, occupants = "big@conference.localhost", 1000
	s := startStackB(b)
	s.prosody.AddUser(b, "alice", "alice-pw")
	var largest, events atomic.Int64
	var listed atomic.Int64 // occupants received in "occupants" events
	e := engine.New(engine.Config{RelayURL: s.relay, Emit: func(_ string, msg []byte) {
		if int64(len(msg)) > largest.Load() {
			largest.Store(int64(len(msg)))
		}
		events.Add(1)
		if bytes.HasPrefix(msg, []byte(`{"event":"occupants"`)) {
			listed.Add(int64(bytes.Count(msg, []byte(`"nick":`)))) // cheap: Emit runs under the lock
		}
	}})
	b.Cleanup(func() { e.Do(context.Background(), req("session.logout", nil)) })
	mustDo := func(op string, args any) {
		// Showing 999 hidden occupants to each other takes Prosody a while before it answers.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if resp := e.Do(ctx, req(op, args)); !resp.OK {
			b.Fatalf("%s: %v", op, resp.Error)
		}
	}
	mustDo("session.login", map[string]string{"jid": "alice@localhost", "password": "alice-pw"})
	mustDo("muc.create", map[string]string{"room": room, "nick": "Alice"})
	// Every join is shown to every occupant: filling a visible room costs n² presences, a
	// minute and more at n = 1,000. Prosody can hide participants (presence broadcast, a room
	// setting): filled hidden, then shown once, the room costs n² cheap sends instead.
	broadcast := func(roles ...string) {
		mustDo("muc.config.set", map[string]any{"room": room, "values": map[string][]string{"muc#roomconfig_presencebroadcast": roles}})
	}
	start := time.Now()
	broadcast("moderator")
	fillRoom(b, s, room, occupants-1)
	filled := time.Since(start)
	broadcast("moderator", "participant", "visitor")
	b.Logf("filled the room with %d occupants in %v, shown in %v", occupants-1, filled.Round(time.Millisecond), (time.Since(start) - filled).Round(time.Millisecond))
	mustDo("muc.leave", map[string]string{"room": room})

	var maxWait time.Duration
	for b.Loop() {
		largest.Store(0)
		events.Store(0)
		listed.Store(0)
		var probeMax atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { // samples the lock all along the join
			for {
				select {
				case <-stop:
					return
				default:
				}
				if d := int64(e.LockWait()); d > probeMax.Load() {
					probeMax.Store(d)
				}
				time.Sleep(20 * time.Microsecond)
			}
		})
		// muc.join answers after the room's own presence, which ends the occupant list, and the
		// list went to the tabs before it.
		mustDo("muc.join", map[string]any{"room": room, "nick": "Alice", "maxHistory": 0})
		close(stop)
		wg.Wait()
		b.StopTimer()
		if n := listed.Load(); n != occupants {
			b.Fatalf("occupants events listed %d occupants, want %d", n, occupants)
		}
		maxWait = max(maxWait, time.Duration(probeMax.Load()))
		mustDo("muc.leave", map[string]string{"room": room})
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(maxWait.Microseconds()), "max-lock-µs")
	b.ReportMetric(float64(largest.Load()), "largest-event-B")
	b.ReportMetric(float64(events.Load()), "events/join")
}
