package server

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sparkweb/sparkweb/testenv"
)

// stop takes a test's Prosody away early, to see how the relay copes.
func stop(t *testing.T, p *testenv.Server) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "testenv", "prosody.sh")
	if out, err := exec.Command(script, "stop", p.Dir).CombinedOutput(); err != nil {
		t.Fatalf("stop prosody: %v\n%s", err, out)
	}
}
