package xmpptcp

import (
	"context"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// TestLoginOverTCP logs in through the translator with the same WebSocket-framed client the
// relay uses for password checks, against each real server's plain c2s port on loopback.
func TestLoginOverTCP(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s *testenv.Server) {
		s.AddUser(t, "alice", "alice pw")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		tests := []struct {
			name     string
			password string
			wantErr  bool
		}{
			{"right password", "alice pw", false},
			{"wrong password", "bob pw", true},
		}
		for _, tc := range tests {
			c, err := Dial(ctx, "xmpp://"+s.C2SAddr, Options{Domain: s.Domain})
			if err != nil {
				t.Fatal(err)
			}
			user := jid.MustParse("alice@" + s.Domain + "/tcp")
			sess, err := xmppws.Login(ctx, NetConn(c), xmppws.LoginConfig{JID: user, Password: tc.password, AllowPlain: true})
			if tc.wantErr {
				if err == nil {
					t.Errorf("%s: logged in", tc.name)
				}
				c.Close(1000, "")
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := sess.LocalAddr(); !got.Equal(user) {
				t.Errorf("%s: bound %v, want %v", tc.name, got, user)
			}
			if err := sess.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
			c.Close(1000, "")
		}
	})
}
