package sm_test

import (
	"context"
	"testing"
	"time"

	"github.com/sparkweb/sparkweb/wasm/sm"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// BenchmarkResume measures a dropped connection to a resumed session on loopback: the drop
// (CloseNow), a new WebSocket, SASL again, <resume/> and <resumed/>.
func BenchmarkResume(b *testing.B) {
	for _, s := range servers {
		// One server for all runs of the sub-benchmark: the testing package may call it twice,
		// and two ejabberds at once do not get along.
		srv := s.start(b)
		srv.AddUser(b, "alice", "pw-alice")
		b.Run(s.name, func(b *testing.B) {
			ctx := context.Background()
			alice := newClient(b, srv, srv.WebSocketURL, "alice", true, sm.Options{})
			alice.login(ctx)
			n := 0
			for b.Loop() {
				// ejabberd 23.01 sometimes refuses (item-not-found) a resumption that follows
				// the previous one within milliseconds; a real drop is never that quick.
				b.StopTimer()
				time.Sleep(50 * time.Millisecond)
				b.StartTimer()
				_ = alice.conn.CloseNow()
				conn, err := xmppws.Dial(ctx, srv.WebSocketURL, nil)
				if err != nil {
					b.Fatal(err)
				}
				sess, err := alice.st.Resume(ctx, conn, alice.cfg)
				if err != nil {
					b.Fatalf("after %d resumptions: %v", n, err)
				}
				n++
				alice.conn, alice.sess = conn, sess
				go func() { _ = sess.Serve(nil) }()
			}
		})
	}
}

// BenchmarkLogin measures a fresh login with stream management enabled, for comparison: what a
// refused resumption costs before the roster and presence are even fetched.
func BenchmarkLogin(b *testing.B) {
	for _, s := range servers {
		srv := s.start(b)
		srv.AddUser(b, "alice", "pw-alice")
		b.Run(s.name, func(b *testing.B) {
			ctx := context.Background()
			alice := newClient(b, srv, srv.WebSocketURL, "alice", true, sm.Options{})
			for b.Loop() {
				conn, err := xmppws.Dial(ctx, srv.WebSocketURL, nil)
				if err != nil {
					b.Fatal(err)
				}
				sess, err := alice.st.Login(ctx, conn, alice.cfg)
				if err != nil {
					b.Fatal(err)
				}
				_ = sess.Close()
				_ = conn.CloseNow()
			}
		})
	}
}
