package upstream

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/testenv"
)

func TestCheckPassword(t *testing.T) {
	for _, hash := range []string{"SHA-1", "SHA-256"} {
		t.Run(hash, func(t *testing.T) {
			p := testenv.StartProsody(t, testenv.ProsodyOptions{PasswordHash: hash})
			p.AddUser(t, "alice", "correct horse")
			c := &Checker{URL: p.WebSocketURL}
			alice := jid.MustParse("alice@" + p.Domain)
			nobody := jid.MustParse("nobody@" + p.Domain)

			tests := []struct {
				name      string
				user      jid.JID
				password  string
				wantErr   bool
				wantCreds bool // the error wraps auth.ErrInvalidCredentials
			}{
				{"right password", alice, "correct horse", false, false},
				{"wrong password", alice, "battery staple", true, true},
				{"unknown user", nobody, "correct horse", true, true},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
					defer cancel()
					start := time.Now()
					err := c.CheckPassword(ctx, tc.user, tc.password)
					t.Logf("took %v", time.Since(start))
					if (err != nil) != tc.wantErr {
						t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
					}
					if got := errors.Is(err, auth.ErrInvalidCredentials); got != tc.wantCreds {
						t.Errorf("errors.Is(%v, ErrInvalidCredentials) = %v, want %v", err, got, tc.wantCreds)
					}
				})
			}
		})
	}
}

func TestCheckPasswordUnreachable(t *testing.T) {
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	// A server that accepts TCP but never answers: the timeout must end the check.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	tests := []struct {
		name string
		url  string
	}{
		{"closed port", "ws://" + addr + "/xmpp-websocket"},
		{"silent server", "ws://" + silent.Addr().String() + "/xmpp-websocket"},
		{"bad URL", "ws://[::1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Checker{URL: tc.url, Timeout: 500 * time.Millisecond}
			start := time.Now()
			err := c.CheckPassword(context.Background(), jid.MustParse("alice@localhost"), "pw")
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, auth.ErrInvalidCredentials) {
				t.Errorf("unreachable reported as wrong credentials: %v", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v despite a 500ms timeout", d)
			}
		})
	}
}
