package push

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"

	"github.com/sparkweb/sparkweb/relay/store"
)

// MemoryStore is a Store in memory, for a relay without a store file: the VAPID key and the
// registrations die with the process, so browsers must subscribe again after a restart.
type MemoryStore struct {
	mu    sync.Mutex
	key   *ecdsa.PrivateKey
	users map[string]store.PushRegistration
	nodes map[string]string
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{users: map[string]store.PushRegistration{}, nodes: map[string]string{}}
}

// PushVAPIDKey implements Store.
func (m *MemoryStore) PushVAPIDKey() (*ecdsa.PrivateKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate VAPID key: %w", err)
		}
		m.key = k
	}
	return m.key, nil
}

// PushSubscribe implements Store.
func (m *MemoryStore) PushSubscribe(jid string, sub store.PushSubscription, max int, newNode func() (string, string)) (store.PushRegistration, []store.PushSubscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	reg, ok := m.users[jid]
	if !ok {
		reg = store.PushRegistration{JID: jid}
		reg.Node, reg.Secret = newNode()
		m.nodes[reg.Node] = jid
	}
	reg.Subscriptions = slices.Clone(reg.Subscriptions) // never share a slice with a caller
	evicted := reg.Upsert(sub, max)
	m.users[jid] = reg
	return reg, evicted, nil
}

// PushUnsubscribe implements Store.
func (m *MemoryStore) PushUnsubscribe(jid, endpoint string) (bool, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	reg, ok := m.users[jid]
	if !ok {
		return false, 0, nil
	}
	reg.Subscriptions = slices.Clone(reg.Subscriptions)
	found := reg.Remove(endpoint)
	if len(reg.Subscriptions) == 0 {
		delete(m.users, jid)
		delete(m.nodes, reg.Node)
	} else {
		m.users[jid] = reg
	}
	return found, len(reg.Subscriptions), nil
}

// PushByNode implements Store.
func (m *MemoryStore) PushByNode(node string) (store.PushRegistration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	reg, ok := m.users[m.nodes[node]]
	if !ok {
		return store.PushRegistration{}, fmt.Errorf("push node: %w", store.ErrNotFound)
	}
	reg.Subscriptions = slices.Clone(reg.Subscriptions)
	return reg, nil
}
