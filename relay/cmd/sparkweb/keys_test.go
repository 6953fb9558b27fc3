package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkweb/sparkweb/relay/store"
)

func TestKeysCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	env := func(string) string { return "" }
	run := func(args ...string) (string, error) {
		var out strings.Builder
		err := keysCommand(args, env, &out, io.Discard)
		return out.String(), err
	}
	if out, err := run("--store", path); err != nil || !strings.Contains(out, "no keys yet") {
		t.Fatalf("list of a new store: %q %v", out, err)
	}
	out, err := run("--store", path, "rotate")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, "current (signs)") {
		t.Fatalf("first rotate: %q %v", out, err)
	}
	first := strings.Fields(out)[0]
	out, err = run("--store", path, "rotate")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || !strings.HasPrefix(lines[1], first) || strings.HasPrefix(lines[0], first) {
		t.Fatalf("second rotate: %q %v", out, err)
	}
	// SPARKWEB_STORE works like --store.
	var sb strings.Builder
	if err := keysCommand(nil, func(k string) string { return map[string]string{"SPARKWEB_STORE": path}[k] }, &sb, io.Discard); err != nil || sb.String() != out {
		t.Errorf("list via environment: %q %v", sb.String(), err)
	}
	// A running relay holds the lock: refuse with a hint.
	st, err := store.Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := run("--store", path, "rotate"); err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Errorf("rotate on a held store: %v", err)
	}
	for _, bad := range [][]string{{}, {"--store", path, "delete"}} {
		if _, err := run(bad...); err == nil {
			t.Errorf("keys %q accepted", bad)
		}
	}
}
