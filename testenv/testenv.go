// Package testenv starts throwaway XMPP servers for SparkWeb's integration tests.
//
// It drives prosody.sh and ejabberd.sh, the scripts the browser tests and `make run` use too, so
// every kind of test talks to an identically configured server.
package testenv

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// ProsodyOptions tune a throwaway Prosody.
type ProsodyOptions struct {
	// PasswordHash is "SHA-1" (default) or "SHA-256"; it selects the SCRAM mechanism offered.
	PasswordHash string
	// PushBody makes push summaries carry the sender and body of the message instead of
	// placeholders (push_notification_with_body/sender).
	PushBody bool
	// AllowRegistration lets anyone create an account by in-band registration (XEP-0077).
	AllowRegistration bool
	// Env adds KEY=VALUE settings for prosody.sh start, e.g. PROSODY_OAUTH_URL and
	// PROSODY_OAUTH_CLIENT_SECRET, which switch authentication to mod_auth_oauthbearer.
	Env []string
}

// Server is a running throwaway XMPP server on loopback.
type Server struct {
	// Dir holds its configuration environment, data and logs.
	Dir string
	// Domain is the XMPP domain it serves.
	Domain string
	// WebSocketURL is its RFC 7395 endpoint.
	WebSocketURL string
	// C2SAddr is its plain XMPP client port (RFC 6120), host:port.
	C2SAddr string
	// Env holds every KEY=VALUE the start script printed (ports, secrets).
	Env map[string]string

	script string
}

// StartProsody starts Prosody in a temporary directory and stops it when the test ends.
// It fails the test if Prosody is missing: integration tests must not pass by skipping.
func StartProsody(t testing.TB, opts ProsodyOptions) *Server {
	t.Helper()
	var env []string
	if opts.PasswordHash != "" {
		env = append(env, "PROSODY_PASSWORD_HASH="+opts.PasswordHash)
	}
	if opts.PushBody {
		env = append(env, "PROSODY_PUSH_BODY=1")
	}
	if opts.AllowRegistration {
		env = append(env, "PROSODY_ALLOW_REGISTRATION=1")
	}
	env = append(env, opts.Env...)
	s := start(t, "prosody.sh", env)
	s.Domain, s.WebSocketURL = s.Env["PROSODY_DOMAIN"], s.Env["PROSODY_WS_URL"]
	s.C2SAddr = "127.0.0.1:" + s.Env["PROSODY_C2S_PORT"]
	return s
}

// StartEjabberd starts ejabberd in a temporary directory and stops it when the test ends.
// Env gets EJABBERD_JWT_SECRET, the HS256 secret of JWTs it accepts as passwords.
func StartEjabberd(t testing.TB) *Server {
	t.Helper()
	s := start(t, "ejabberd.sh", nil)
	s.Domain, s.WebSocketURL = s.Env["EJABBERD_DOMAIN"], s.Env["EJABBERD_WS_URL"]
	s.C2SAddr = "127.0.0.1:" + s.Env["EJABBERD_C2S_PORT"]
	return s
}

// EachServer runs f as a parallel subtest against a fresh Prosody and a fresh ejabberd, for
// behaviour every supported server must show.
func EachServer(t *testing.T, f func(t *testing.T, s *Server)) {
	t.Helper()
	for name, start := range map[string]func(testing.TB) *Server{
		"prosody":  func(t testing.TB) *Server { return StartProsody(t, ProsodyOptions{}) },
		"ejabberd": StartEjabberd,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, start(t))
		})
	}
}

func start(t testing.TB, script string, env []string) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs a real XMPP server (run without -short)")
	}
	dir := t.TempDir()
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), script)
	cmd := exec.Command(path, "start", dir)
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s start: %v\n%s", script, err, stderr)
	}
	s := &Server{Dir: dir, Env: map[string]string{}, script: path}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			s.Env[k] = v
		}
	}
	t.Cleanup(func() { _ = exec.Command(path, "stop", dir).Run() })
	return s
}

// AddUser creates the account user@domain.
func (s *Server) AddUser(t testing.TB, user, password string) {
	t.Helper()
	s.run(t, "adduser", user, password)
}

// SetPassword changes the password of an existing account.
func (s *Server) SetPassword(t testing.TB, user, password string) {
	t.Helper()
	s.run(t, "passwd", user, password)
}

// Befriend gives two users a mutual subscription. On Prosody, call it before either logs in.
func (s *Server) Befriend(t testing.TB, user1, user2 string) {
	t.Helper()
	s.run(t, "befriend", user1, user2)
}

// Restart stops the server and starts it again on the same ports with the same data, as an
// operator's restart does: every connection drops, accounts and archives stay.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.run(t, "restart")
}

// Stop stops the server before the test ends, e.g. to test what a client does when it goes away.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.run(t, "stop")
}

func (s *Server) run(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command(s.script, append([]string{args[0], s.Dir}, args[1:]...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(s.script), args[0], err, out)
	}
}
