package xmppws_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

func TestLogin(t *testing.T) {
	for _, hash := range []string{"SHA-1", "SHA-256"} {
		t.Run("SCRAM-"+hash, func(t *testing.T) {
			p := testenv.StartProsody(t, testenv.ProsodyOptions{PasswordHash: hash})
			p.AddUser(t, "alice", "correct horse")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			tests := []struct {
				name     string
				password string
				resource string
				noBind   bool
				wantErr  error
			}{
				{"requested resource is bound", "correct horse", "desk", false, nil},
				{"server picks a resource", "correct horse", "", false, nil},
				{"password check without bind", "correct horse", "", true, nil},
				{"wrong password", "wrong", "desk", false, xmppws.ErrNotAuthorized},
				{"wrong password without bind", "wrong", "", true, xmppws.ErrNotAuthorized},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					conn, err := xmppws.Dial(ctx, p.WebSocketURL, nil)
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close()
					j := jid.MustParse("alice@" + p.Domain)
					if tt.resource != "" {
						j, _ = j.WithResource(tt.resource)
					}
					s, err := xmppws.Login(ctx, conn, xmppws.LoginConfig{JID: j, Password: tt.password, NoBind: tt.noBind})
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Login error = %v, want %v", err, tt.wantErr)
					}
					if err != nil || tt.noBind {
						return
					}
					got := s.LocalAddr()
					if !got.Bare().Equal(j.Bare()) || got.Resourcepart() == "" {
						t.Fatalf("bound %v", got)
					}
					if tt.resource != "" && got.Resourcepart() != tt.resource {
						t.Errorf("bound resource %q, want %q", got.Resourcepart(), tt.resource)
					}
					if err := s.Close(); err != nil {
						t.Errorf("close: %v", err)
					}
				})
			}
		})
	}
}
