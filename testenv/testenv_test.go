package testenv_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sparkweb/sparkweb/testenv"
)

// TestServersStart checks that each throwaway server answers on its WebSocket port and accepts
// its admin commands.
func TestServersStart(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s *testenv.Server) {
		if s.Domain != "localhost" || !strings.HasPrefix(s.WebSocketURL, "ws://127.0.0.1:") || !strings.HasPrefix(s.C2SAddr, "127.0.0.1:") {
			t.Fatalf("server = %+v", s)
		}
		s.AddUser(t, "alice", "pw")
		s.AddUser(t, "bob", "pw")
		s.Befriend(t, "alice", "bob")
		s.SetPassword(t, "alice", "pw2")
		s.Restart(t)
		resp, err := http.Get(strings.Replace(s.WebSocketURL, "ws://", "http://", 1))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("GET %s: %s", s.WebSocketURL, resp.Status)
		}
	})
}
