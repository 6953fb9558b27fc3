package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestPushStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	s, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.PushVAPIDKey()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	newNode := func() (string, string) { n++; return "node" + string(rune('0'+n)), "secret" }
	sub := func(e string) PushSubscription {
		return PushSubscription{Endpoint: e, P256DH: "k", Auth: "a", Created: time.Now()}
	}

	reg, _, err := s.PushSubscribe("alice@localhost", sub("https://e/1"), 2, newNode)
	if err != nil || reg.Node != "node1" || len(reg.Subscriptions) != 1 {
		t.Fatalf("first subscribe: %+v %v", reg, err)
	}
	_, _, _ = s.PushSubscribe("alice@localhost", sub("https://e/2"), 2, newNode)
	reg, _, _ = s.PushSubscribe("alice@localhost", sub("https://e/1"), 2, newNode) // same endpoint again: replaced, moves last
	if reg.Node != "node1" || len(reg.Subscriptions) != 2 || reg.Subscriptions[1].Endpoint != "https://e/1" {
		t.Fatalf("re-subscribe: %+v", reg)
	}
	reg, evicted, _ := s.PushSubscribe("alice@localhost", sub("https://e/3"), 2, newNode)
	if len(evicted) != 1 || evicted[0].Endpoint != "https://e/2" || len(reg.Subscriptions) != 2 {
		t.Fatalf("evict: %+v evicted %+v", reg, evicted)
	}
	bob, _, _ := s.PushSubscribe("bob@localhost", sub("https://e/b"), 2, newNode)
	if bob.Node == reg.Node {
		t.Fatal("bob shares alice's node")
	}

	// Everything survives a restart, the VAPID key included.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path, 0); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if k2, _ := s.PushVAPIDKey(); !k2.Equal(key) {
		t.Error("VAPID key changed across a restart: every browser subscription would break")
	}
	if got, err := s.PushByNode("node1"); err != nil || got.JID != "alice@localhost" || len(got.Subscriptions) != 2 {
		t.Fatalf("by node after reopen: %+v %v", got, err)
	}

	if found, remaining, _ := s.PushUnsubscribe("alice@localhost", "https://e/nope"); found || remaining != 2 {
		t.Errorf("unknown endpoint: found=%v remaining=%d", found, remaining)
	}
	if found, remaining, _ := s.PushUnsubscribe("alice@localhost", "https://e/1"); !found || remaining != 1 {
		t.Errorf("unsubscribe: found=%v remaining=%d", found, remaining)
	}
	// The last one takes the node with it.
	if found, remaining, _ := s.PushUnsubscribe("alice@localhost", "https://e/3"); !found || remaining != 0 {
		t.Errorf("last unsubscribe: found=%v remaining=%d", found, remaining)
	}
	if _, err := s.PushByNode("node1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("node of a gone registration: %v, want ErrNotFound", err)
	}
	if got, err := s.PushByNode(bob.Node); err != nil || got.JID != "bob@localhost" {
		t.Errorf("bob's node: %+v %v", got, err)
	}
}
