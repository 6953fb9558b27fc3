package sm_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/sm"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// setup starts the server and creates alice and bob.
func setup(t *testing.T, s server) *testenv.Server {
	t.Helper()
	srv := s.start(t)
	srv.AddUser(t, "alice", "pw-alice")
	srv.AddUser(t, "bob", "pw-bob")
	return srv
}

func TestEnable(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			srv := setup(t, s)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			alice := newClient(t, srv, srv.WebSocketURL, "alice", true, sm.Options{})
			alice.login(ctx)

			info := alice.st.Info()
			if !info.Enabled || !info.Resumable || info.ID == "" {
				t.Fatalf("after login: %+v, want enabled and resumable with an id", info)
			}
			if info.JID != alice.sess.LocalAddr().String() || !strings.HasSuffix(info.JID, "/test") {
				t.Errorf("JID %q, session bound %v", info.JID, alice.sess.LocalAddr())
			}
			if info.Max <= 0 {
				t.Errorf("max = %v, want the server's resumption timeout", info.Max)
			}
			t.Logf("%s: id %s, max %v, location %q", s.name, info.ID, info.Max, info.Location)
		})
	}
}

func TestAckCounting(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			srv := setup(t, s)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			alice := newClient(t, srv, srv.WebSocketURL, "alice", true, sm.Options{})
			bob := newClient(t, srv, srv.WebSocketURL, "bob", false, sm.Options{})
			alice.login(ctx)
			bob.login(ctx)

			// Outbound: every stanza alice sends is acknowledged, and the server's h is her count.
			const n = 25
			for _, b := range series("a", 1, n) {
				if err := alice.send(ctx, bob.sess.LocalAddr(), b); err != nil {
					t.Fatal(err)
				}
			}
			bob.waitFor(10*time.Second, "alice's messages", func(c *client) bool { return len(c.bodies) == n })
			alice.waitFor(10*time.Second, "acks", func(c *client) bool { return c.acked == n+1 }) // + initial presence
			if info := alice.st.Info(); info.Sent != n+1 || info.Acked != info.Sent || len(info.Unacked) != 0 {
				t.Errorf("after acks: sent %d, acked (server's h) %d, unacked %d; want %d, %d, 0",
					info.Sent, info.Acked, len(info.Unacked), n+1, n+1)
			}

			// Inbound: alice's h is exactly the number of stanzas her session handled.
			for _, b := range series("b", 1, n) {
				if err := bob.send(ctx, alice.sess.LocalAddr(), b); err != nil {
					t.Fatal(err)
				}
			}
			alice.waitFor(10*time.Second, "bob's messages", func(c *client) bool { return len(c.bodies) == n })
			alice.mu.Lock()
			handled := alice.stanzas
			alice.mu.Unlock()
			if h := alice.st.Info().Handled; int(h) != handled || handled < n {
				t.Errorf("h = %d, the handler saw %d stanzas (%d of them bob's messages)", h, handled, n)
			}
			// The server asks for acks itself now and then; answering them with a wrong h
			// would end the stream, so the session must still work.
			if err := alice.st.RequestAck(); err != nil {
				t.Fatal(err)
			}
			if err := alice.send(ctx, bob.sess.LocalAddr(), "a-last"); err != nil {
				t.Fatal(err)
			}
			bob.waitFor(10*time.Second, "last message", func(c *client) bool { return len(c.bodies) == n+1 })
			checkExactlyOnce(t, "bob", bob.received(), append(series("a", 1, n), "a-last"))
			checkExactlyOnce(t, "alice", alice.received(), series("b", 1, n))
		})
	}
}

// TestResume loses the network while messages travel both ways, resumes, and counts.
func TestResume(t *testing.T) {
	modes := []struct {
		name string
		cut  bool // the server notices the drop; otherwise its side stays open, half-dead
	}{
		{"server notices the drop", true},
		{"server still holds the dead connection", false},
	}
	for _, s := range servers {
		for _, m := range modes {
			t.Run(s.name+"/"+m.name, func(t *testing.T) {
				srv := setup(t, s)
				ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
				defer cancel()
				px, viaProxy := newProxy(t, srv.WebSocketURL)
				alice := newClient(t, srv, viaProxy, "alice", true, sm.Options{})
				bob := newClient(t, srv, srv.WebSocketURL, "bob", false, sm.Options{})
				alice.login(ctx)
				bob.login(ctx)
				aliceJID, bobJID := alice.sess.LocalAddr(), bob.sess.LocalAddr()
				exchange := func(from, to int) {
					t.Helper()
					for i, b := range series("a", from, to) {
						if err := alice.send(ctx, bobJID, b); err != nil {
							t.Fatal(err)
						}
						if err := bob.send(ctx, aliceJID, series("b", from, to)[i]); err != nil {
							t.Fatal(err)
						}
					}
				}

				exchange(1, 5)
				bob.waitFor(10*time.Second, "a-1…5", func(c *client) bool { return len(c.bodies) == 5 })
				alice.waitFor(10*time.Second, "b-1…5", func(c *client) bool { return len(c.bodies) == 5 })

				// The network dies silently: both sides keep sending into the void.
				px.Freeze()
				exchange(6, 10)
				if m.cut {
					px.Cut()
				}
				_ = alice.conn.CloseNow() // alice gives up on the connection
				<-alice.serveErr
				before := alice.st.Info()
				if before.Sent-before.Acked < 5 {
					t.Fatalf("after the drop only %d stanzas unacknowledged, want a-6…10 at least", before.Sent-before.Acked)
				}

				conn := alice.dial(ctx)
				sess, err := alice.st.Resume(ctx, conn, alice.cfg)
				if err != nil {
					t.Fatalf("resume: %v", err)
				}
				after := alice.st.Info()
				if resent := before.Sent - after.Acked; resent < 5 {
					t.Errorf("resent %d stanzas, want at least a-6…10", resent)
				}
				if after.ID != before.ID || sess.LocalAddr().String() != before.JID {
					t.Errorf("resumed as %v (id %s), want %s (id %s)", sess.LocalAddr(), after.ID, before.JID, before.ID)
				}
				alice.serve(conn, sess)

				exchange(11, 15)
				// A last message each way: anything resent twice would arrive before it.
				if err := alice.send(ctx, bobJID, "a-end"); err != nil {
					t.Fatal(err)
				}
				if err := bob.send(ctx, aliceJID, "b-end"); err != nil {
					t.Fatal(err)
				}
				bob.waitFor(15*time.Second, "a-end", func(c *client) bool { return len(c.bodies) > 0 && c.bodies[len(c.bodies)-1] == "a-end" })
				alice.waitFor(15*time.Second, "b-end", func(c *client) bool { return len(c.bodies) > 0 && c.bodies[len(c.bodies)-1] == "b-end" })
				checkExactlyOnce(t, "bob", bob.received(), append(series("a", 1, 15), "a-end"))
				checkDelivery(t, "alice", alice.received(), append(series("b", 1, 15), "b-end"), !s.reordersOnResume)

				// Counting went on across the resumption: the server's h meets ours again.
				if err := alice.st.RequestAck(); err != nil {
					t.Fatal(err)
				}
				alice.waitFor(10*time.Second, "everything acknowledged", func(c *client) bool {
					info := c.st.Info()
					return info.Acked == info.Sent && len(info.Unacked) == 0
				})
				alice.mu.Lock()
				handled := alice.stanzas
				alice.mu.Unlock()
				if h := alice.st.Info().Handled; int(h) != handled {
					t.Errorf("h = %d, the handlers saw %d stanzas", h, handled)
				}
			})
		}
	}
}

// TestResumeFailed has the server refuse resumption and checks the unacknowledged stanzas are
// handed back, in order, and that a fresh login works on the same State.
func TestResumeFailed(t *testing.T) {
	cases := []struct {
		name   string
		forget func(t *testing.T, srv *testenv.Server, s server, st *sm.State, url string) (*sm.State, string)
	}{
		{"unknown previd", func(t *testing.T, _ *testenv.Server, _ server, st *sm.State, url string) (*sm.State, string) {
			info := st.Info()
			info.ID += "-unknown"
			forged, err := sm.Restore(info, sm.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return forged, url
		}},
		{"server restarted", func(t *testing.T, srv *testenv.Server, s server, st *sm.State, _ string) (*sm.State, string) {
			return st, restart(t, srv, s.name)
		}},
	}
	for _, s := range servers {
		for _, tc := range cases {
			t.Run(s.name+"/"+tc.name, func(t *testing.T) {
				srv := setup(t, s)
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				px, viaProxy := newProxy(t, srv.WebSocketURL)
				alice := newClient(t, srv, viaProxy, "alice", true, sm.Options{})
				alice.login(ctx)
				bobJID := alice.cfg.JID // any address will do: these never arrive
				bobJID, _ = bobJID.WithResource("x")

				px.Freeze()
				lost := series("a", 1, 3)
				for _, b := range lost {
					if err := alice.send(ctx, bobJID, b); err != nil {
						t.Fatal(err)
					}
				}
				px.Cut()
				_ = alice.conn.CloseNow()

				st, url := tc.forget(t, srv, s, alice.st, viaProxy)
				conn, err := xmppws.Dial(ctx, url, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.CloseNow()
				_, err = st.Resume(ctx, conn, alice.cfg)
				var failed *sm.FailedError
				if !errors.As(err, &failed) {
					t.Fatalf("resume error = %v, want a *sm.FailedError", err)
				}
				t.Logf("%s: %v", s.name, err)
				if failed.Condition != "item-not-found" {
					t.Errorf("condition %q, want item-not-found", failed.Condition)
				}
				var got []string
				for _, f := range failed.Unacked {
					for _, b := range lost {
						if strings.Contains(string(f), ">"+b+"<") {
							got = append(got, b)
						}
					}
				}
				checkExactlyOnce(t, "handed back", got, lost)
				if st.Resumable() || len(st.Info().Unacked) != 0 {
					t.Errorf("state after a refused resumption: %+v, want it reset", st.Info())
				}

				// The State starts over with a fresh session.
				conn2, err := xmppws.Dial(ctx, url, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer conn2.CloseNow()
				sess, err := st.Login(ctx, conn2, alice.cfg)
				if err != nil {
					t.Fatalf("fresh login after the refusal: %v", err)
				}
				defer sess.Close()
				if info := st.Info(); !info.Resumable || info.Sent != 0 || info.Handled != 0 {
					t.Errorf("fresh session state %+v", info)
				}
			})
		}
	}
}

func TestResumeWithoutSession(t *testing.T) {
	st := sm.New(sm.Options{})
	_, err := st.Resume(context.Background(), nil, xmppws.LoginConfig{JID: jid.MustParse("alice@localhost/x"), Password: "x"})
	var failed *sm.FailedError
	if !errors.As(err, &failed) || failed.Condition != "not-resumable" {
		t.Fatalf("Resume of a State never logged in: %v, want FailedError not-resumable", err)
	}
	if err := st.RequestAck(); !errors.Is(err, sm.ErrNotEnabled) {
		t.Errorf("RequestAck = %v, want ErrNotEnabled", err)
	}
}

// TestIdleAckRequests: while idle, a State with nothing unacknowledged sends nothing at all, so
// a server holding stanzas for an inactive client (CSI) is not made to flush them; the periodic
// requests come back when it is no longer idle, and a stanza sent while idle is still
// acknowledged.
func TestIdleAckRequests(t *testing.T) {
	srv := setup(t, servers[0])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, wsURL := newProxy(t, srv.WebSocketURL)
	const interval = 100 * time.Millisecond
	alice := newClient(t, srv, wsURL, "alice", true, sm.Options{AckInterval: interval})
	bob := newClient(t, srv, srv.WebSocketURL, "bob", false, sm.Options{})
	alice.login(ctx)
	bob.login(ctx)
	alice.waitFor(5*time.Second, "initial presence acknowledged", func(c *client) bool { return c.acked == 1 })

	sentDuring := func(d time.Duration) int64 {
		before := p.Up()
		time.Sleep(d)
		return p.Up() - before
	}
	if n := sentDuring(5 * interval); n == 0 {
		t.Fatal("no periodic ack request while not idle") // the control: the proxy does count
	}
	alice.st.SetIdle(true)
	time.Sleep(interval) // a request already out gets its answer
	if n := sentDuring(10 * interval); n != 0 {
		t.Errorf("idle with nothing unacknowledged, %d bytes went to the server", n)
	}
	if err := alice.send(ctx, bob.sess.LocalAddr(), "while idle"); err != nil {
		t.Fatal(err)
	}
	alice.waitFor(5*time.Second, "the message sent while idle acknowledged", func(c *client) bool { return c.acked == 2 })
	time.Sleep(interval)
	if n := sentDuring(10 * interval); n != 0 {
		t.Errorf("idle again with nothing unacknowledged, %d bytes went to the server", n)
	}
	alice.st.SetIdle(false)
	if n := sentDuring(5 * interval); n == 0 {
		t.Error("no periodic ack request after idle ended")
	}
}
