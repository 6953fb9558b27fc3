package scram_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/scram"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// TestLoginWithKeys logs in against real servers with the password, then again with only the
// keys that login produced, for each SCRAM variant Prosody can be set to.
func TestLoginWithKeys(t *testing.T) {
	for _, hash := range []string{"SHA-1", "SHA-256"} {
		t.Run(hash, func(t *testing.T) {
			p := testenv.StartProsody(t, testenv.ProsodyOptions{PasswordHash: hash})
			p.AddUser(t, "alice", "s3cret")
			login := func(password string, keys *scram.Keys) (scram.Keys, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				conn, err := xmppws.Dial(ctx, p.WebSocketURL, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				var got scram.Keys
				s, err := xmppws.Login(ctx, conn, xmppws.LoginConfig{
					JID:        jid.MustParse("alice@localhost/k"),
					Mechanisms: scram.Mechanisms(password, keys, func(k scram.Keys) { got = k }),
				})
				if err == nil {
					_ = s.Close()
				}
				return got, err
			}

			keys, err := login("s3cret", nil)
			if err != nil {
				t.Fatalf("login with password: %v", err)
			}
			if want := "SCRAM-" + hash; keys.Mechanism != want || len(keys.SaltedPassword) == 0 || keys.Iterations == 0 {
				t.Fatalf("keys = %+v, want %s keys", keys, want)
			}
			again, err := login("", &keys)
			if err != nil {
				t.Fatalf("login with keys: %v", err)
			}
			if string(again.SaltedPassword) != string(keys.SaltedPassword) {
				t.Error("keys changed between logins")
			}

			if _, err := login("wrong", nil); !errors.Is(err, xmppws.ErrNotAuthorized) {
				t.Errorf("wrong password: %v, want not authorized", err)
			}
			bad := keys
			bad.SaltedPassword = append([]byte(nil), keys.SaltedPassword...)
			bad.SaltedPassword[0] ^= 0xff
			if _, err := login("", &bad); !errors.Is(err, xmppws.ErrNotAuthorized) {
				t.Errorf("tampered keys: %v, want not authorized", err)
			}
			stale := keys
			stale.Salt = []byte("another salt")
			if _, err := login("", &stale); !errors.Is(err, scram.ErrStaleKeys) {
				t.Errorf("stale keys: %v, want ErrStaleKeys", err)
			}
		})
	}
}
