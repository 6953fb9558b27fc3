package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOpenRefusesSecondHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	s := open(t, path)
	start := time.Now()
	if _, err := Open(path, 200*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %v", d)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Released with Close.
	open(t, path).Close()
}

func TestSigningKeysPersistAndRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	now := time.Unix(1_700_000_000, 0)
	s := open(t, path)
	first, err := s.EnsureSigningKeys(now)
	if err != nil || len(first) != 1 {
		t.Fatalf("ensure: %v %v", first, err)
	}
	again, err := s.EnsureSigningKeys(now)
	if err != nil || len(again) != 1 || again[0].ID != first[0].ID {
		t.Fatalf("second ensure made a new key: %v %v", again, err)
	}
	s.Close()

	s = open(t, path)
	defer s.Close()
	reopened, err := s.SigningKeys()
	if err != nil || len(reopened) != 1 || reopened[0].ID != first[0].ID || !reopened[0].Private.Equal(first[0].Private) {
		t.Fatalf("key not persisted: %v %v", reopened, err)
	}
	for i := range 3 {
		k, err := NewSigningKey(now)
		if err != nil {
			t.Fatal(err)
		}
		prev, _ := s.SigningKeys()
		if err := s.RotateSigningKey(k); err != nil {
			t.Fatal(err)
		}
		keys, err := s.SigningKeys()
		if err != nil {
			t.Fatal(err)
		}
		// The new key is current and only the one it replaced is kept.
		if len(keys) != 2 || keys[0].ID != k.ID || keys[1].ID != prev[0].ID {
			t.Fatalf("rotation %d: keys %v", i, ids(keys))
		}
	}
}

func ids(keys []SigningKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}

func TestRefreshTokens(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := open(t, filepath.Join(t.TempDir(), "relay.db"))
	defer s.Close()
	put := func(tok, family string, exp time.Time) {
		t.Helper()
		if err := s.PutRefresh(tok, RefreshToken{Family: family, JID: "alice@example.org", Expires: exp}); err != nil {
			t.Fatal(err)
		}
	}
	put("a1", "fa", now.Add(time.Hour))
	put("a2", "fa", now.Add(time.Hour))
	put("b1", "fb", now.Add(time.Hour))
	put("old", "fc", now.Add(-time.Second))

	tests := []struct {
		name, token string
		want        error
	}{
		{"first use", "a1", nil},
		{"unknown", "zz", ErrNotFound},
		{"expired", "old", ErrExpired},
		{"expired token is gone", "old", ErrNotFound},
		{"reuse revokes family", "a1", ErrReused},
		{"sibling revoked with family", "a2", ErrNotFound},
		{"other family untouched", "b1", nil},
	}
	for _, tc := range tests {
		rt, err := s.UseRefresh(tc.token, now)
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		if tc.want == nil && rt.JID != "alice@example.org" {
			t.Errorf("%s: token %+v", tc.name, rt)
		}
	}

	put("c1", "fd", now.Add(time.Hour))
	if err := s.RevokeRefresh("c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseRefresh("c1", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked token usable: %v", err)
	}
	if err := s.RevokeRefresh("never-issued"); err != nil {
		t.Errorf("revoking an unknown token: %v", err)
	}

	put("d1", "fe", now.Add(time.Minute))
	put("d2", "ff", now.Add(time.Hour))
	if n, err := s.PruneRefresh(now.Add(2 * time.Minute)); err != nil || n != 1 { // only d1 has expired
		t.Errorf("pruned %d (%v), want 1", n, err)
	}
}
