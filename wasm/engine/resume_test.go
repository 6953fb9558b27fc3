package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sparkweb/sparkweb/relay/server"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/engine"
)

// TestResumeAfterDrop checks that a dropped connection is resumed (XEP-0198): contacts never see
// us leave, and messages sent to us meanwhile arrive exactly once.
func TestResumeAfterDrop(t *testing.T) {
	s := startFriends(t, testenv.ProsodyOptions{})
	alice, aliceTab := login(t, s, "alice", "web")
	bob, bobTab := login(t, s, "bob", "laptop")
	bobTab.waitEvent(t, "presence", func(d json.RawMessage) bool { return field(d, "jid") == "alice@localhost/web" })

	online := aliceTab.count("session", func(d json.RawMessage) bool { return field(d, "state") == "online" })
	rosters := aliceTab.count("roster", func(json.RawMessage) bool { return true })
	alice.DropConnection()
	for i := range 3 {
		do(t, bob, "chat.send", map[string]string{"to": "alice@localhost", "body": fmt.Sprintf("while away %d", i)})
	}
	waitFor(t, func() bool {
		return aliceTab.count("session", func(d json.RawMessage) bool { return field(d, "state") == "online" }) > online
	})
	aliceTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "body") == "while away 2" })
	for i := range 3 {
		body := fmt.Sprintf("while away %d", i)
		if n := aliceTab.count("message", func(d json.RawMessage) bool { return field(d, "body") == body }); n != 1 {
			t.Errorf("%q arrived %d times", body, n)
		}
	}
	if n := bobTab.count("presence", func(d json.RawMessage) bool {
		return field(d, "jid") == "alice@localhost/web" && field(d, "show") == "unavailable"
	}); n != 0 {
		t.Errorf("bob saw alice leave %d times: the stream was not resumed", n)
	}
	if n := aliceTab.count("roster", func(json.RawMessage) bool { return true }); n != rosters {
		t.Errorf("roster fetched again after the drop: the stream was not resumed")
	}
}

// BenchmarkReconnect measures the time from a dropped connection to online again, when the
// stream is resumed and when a fresh login is needed (with stored keys, roster, presence).
func BenchmarkReconnect(b *testing.B) {
	for _, mode := range []string{"resumed", "fresh"} {
		b.Run(mode, func(b *testing.B) {
			s := startStackB(b)
			s.prosody.AddUser(b, "alice", "alice-pw")
			rec := newRecorder()
			e := engine.New(engine.Config{RelayURL: s.relay, Emit: rec.emit})
			b.Cleanup(e.Close)
			if resp := e.Do(b.Context(), req("session.login", map[string]string{"jid": "alice@localhost", "password": "alice-pw"})); !resp.OK {
				b.Fatal(resp.Error)
			}
			var total time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				online := rec.count("session", func(d json.RawMessage) bool { return field(d, "state") == "online" })
				if mode == "fresh" {
					e.ForgetStream() // as if the server had forgotten the session
				}
				b.StartTimer()
				start := time.Now()
				e.DropConnection()
				deadline := time.Now().Add(20 * time.Second)
				for rec.count("session", func(d json.RawMessage) bool { return field(d, "state") == "online" }) == online {
					if time.Now().After(deadline) {
						var last []string
						for _, m := range rec.msgs[max(0, len(rec.msgs)-6):] {
							b, _ := json.Marshal(m)
							last = append(last, string(b))
						}
						b.Fatalf("not online again within 20 s; last events:\n%s", strings.Join(last, "\n"))
					}
					time.Sleep(time.Millisecond)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/reconnect")
		})
	}
}

// TestRefreshAfterTokenExpiry checks that a reconnect after the relay token expired gets a new
// one with the relay's refresh cookie, without the password.
func TestRefreshAfterTokenExpiry(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{})
	p.AddUser(t, "alice", "alice-pw")
	srv, err := server.New(context.Background(), server.Config{
		Upstream: p.WebSocketURL, Domain: p.Domain, TokenTTL: time.Second,
		StorePath: filepath.Join(t.TempDir(), "relay.db"),
		Logger:    slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	jar, _ := cookiejar.New(nil)
	rec := newRecorder()
	e := engine.New(engine.Config{RelayURL: ts.URL, Emit: rec.emit, HTTPClient: &http.Client{Jar: jar}})
	t.Cleanup(e.Close)
	do(t, e, "session.login", map[string]string{"jid": "alice@localhost", "password": "alice-pw"})
	time.Sleep(1500 * time.Millisecond) // the access token expires
	e.ForgetStream()                    // a fresh login needs a fresh bridge, and so a token
	online := rec.count("session", func(d json.RawMessage) bool { return field(d, "state") == "online" })
	e.DropConnection()
	got := rec.waitEvent(t, "session", func(d json.RawMessage) bool {
		st := field(d, "state")
		return st == "auth-failed" || st == "online" && rec.count("session", func(d json.RawMessage) bool { return field(d, "state") == "online" }) > online
	})
	if field(got, "state") != "online" {
		t.Fatalf("after the token expired: %s", got)
	}
}
