// Package testenv starts throwaway XMPP servers for SparkWeb's integration tests.
//
// It drives prosody.sh, the same script the browser tests and `make run` use, so every kind of
// test talks to an identically configured server.
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
}

// Prosody is a running throwaway Prosody on loopback.
type Prosody struct {
	// Dir holds its configuration environment, data and logs.
	Dir string
	// Domain is the XMPP domain it serves.
	Domain string
	// WebSocketURL is its RFC 7395 endpoint.
	WebSocketURL string
	// Env holds every KEY=VALUE the start script printed (ports, secrets).
	Env map[string]string
}

func script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "prosody.sh")
}

// StartProsody starts Prosody in a temporary directory and stops it when the test ends.
// It fails the test if Prosody is missing: integration tests must not pass by skipping.
func StartProsody(t testing.TB, opts ProsodyOptions) *Prosody {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs Prosody (run without -short)")
	}
	dir := t.TempDir()
	cmd := exec.Command(script(), "start", dir)
	if opts.PasswordHash != "" {
		cmd.Env = append(cmd.Environ(), "PROSODY_PASSWORD_HASH="+opts.PasswordHash)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("start prosody: %v\n%s", err, stderr(err))
	}
	p := &Prosody{Dir: dir, Env: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			p.Env[k] = v
		}
	}
	p.Domain, p.WebSocketURL = p.Env["PROSODY_DOMAIN"], p.Env["PROSODY_WS_URL"]
	t.Cleanup(func() { _ = exec.Command(script(), "stop", dir).Run() })
	return p
}

// AddUser creates the account user@domain.
func (p *Prosody) AddUser(t testing.TB, user, password string) {
	t.Helper()
	p.run(t, "adduser", user, password)
}

// Befriend gives two users a mutual subscription. Call it before either logs in.
func (p *Prosody) Befriend(t testing.TB, user1, user2 string) {
	t.Helper()
	p.run(t, "befriend", user1, user2)
}

func (p *Prosody) run(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command(script(), append([]string{args[0], p.Dir}, args[1:]...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("prosody.sh %s: %v\n%s", args[0], err, out)
	}
}

func stderr(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}
