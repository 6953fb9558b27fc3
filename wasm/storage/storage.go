// Package storage is the engine's durable key-value store: IndexedDB in the browser (through
// the worker's sparkwebStorage), memory natively. Keys are ordered strings; values are JSON.
package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Store keeps what the engine must not forget across reloads: the outbox, the roster, recent
// conversations, the archive position and the keys for a silent login.
type Store interface {
	// Get returns the value of key and whether it exists.
	Get(ctx context.Context, key string) (string, bool, error)
	// Put stores value under key; it is durable once Put returns.
	Put(ctx context.Context, key, value string) error
	// Delete removes key; removing a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns every entry whose key starts with prefix, ordered by key.
	List(ctx context.Context, prefix string) ([]Entry, error)
}

// Entry is one key and its value.
type Entry struct {
	Key, Value string
}

// GetJSON reads key into v and reports whether it existed.
func GetJSON(ctx context.Context, s Store, key string, v any) (bool, error) {
	raw, ok, err := s.Get(ctx, key)
	if err != nil || !ok {
		return false, err
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return false, fmt.Errorf("storage: decode %s: %w", key, err)
	}
	return true, nil
}

// PutJSON stores v as JSON under key.
func PutJSON(ctx context.Context, s Store, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("storage: encode %s: %w", key, err)
	}
	return s.Put(ctx, key, string(b))
}

// Memory is a Store in memory: for native use and tests. An engine given the same Memory after
// a restart behaves as a browser engine does after a reload.
type Memory struct {
	mu sync.Mutex
	m  map[string]string
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{m: map[string]string{}} }

// Get implements Store.
func (s *Memory) Get(_ context.Context, key string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	return v, ok, nil
}

// Put implements Store.
func (s *Memory) Put(_ context.Context, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = value
	return nil
}

// Delete implements Store.
func (s *Memory) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// List implements Store.
func (s *Memory) List(_ context.Context, prefix string) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	for k, v := range s.m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, Entry{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
