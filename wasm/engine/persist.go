package engine

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/storage"
)

// Storage keys. The outbox (outbox.go) is written directly, not through the persister, because
// a sent message must be durable before chat.send answers.
const (
	keyAccount    = "account"
	keyRoster     = "roster"
	keyArchived   = "mam/last"
	convPrefix    = "conv/"
	persistedConv = 50 // messages per conversation kept across reloads
)

// persister writes state to the store in the background, latest value per key, so the engine
// never waits for IndexedDB while holding its lock.
type persister struct {
	store storage.Store
	log   func(msg string, args ...any)

	mu      sync.Mutex
	pending map[string]*string // nil deletes
	wipe    bool
	busy    bool
	idle    *sync.Cond
	wake    chan struct{}
}

func newPersister(store storage.Store, log func(string, ...any)) *persister {
	p := &persister{store: store, log: log, pending: map[string]*string{}, wake: make(chan struct{}, 1)}
	p.idle = sync.NewCond(&p.mu)
	go p.run()
	return p
}

func (p *persister) set(key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		p.log("persist: encode", "key", key, "err", err)
		return
	}
	s := string(b)
	p.mu.Lock()
	p.pending[key] = &s
	p.mu.Unlock()
	p.signal()
}

// wipeAll deletes everything stored, before any later set.
func (p *persister) wipeAll() {
	p.mu.Lock()
	p.pending = map[string]*string{}
	p.wipe = true
	p.mu.Unlock()
	p.signal()
}

func (p *persister) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *persister) run() {
	ctx := context.Background()
	for range p.wake {
		p.mu.Lock()
		pending, wipe := p.pending, p.wipe
		p.pending, p.wipe, p.busy = map[string]*string{}, false, true
		p.mu.Unlock()
		if wipe {
			all, err := p.store.List(ctx, "")
			if err != nil {
				p.log("persist: list for wipe", "err", err)
			}
			for _, e := range all {
				if err := p.store.Delete(ctx, e.Key); err != nil {
					p.log("persist: wipe", "key", e.Key, "err", err)
				}
			}
		}
		for k, v := range pending {
			var err error
			if v == nil {
				err = p.store.Delete(ctx, k)
			} else {
				err = p.store.Put(ctx, k, *v)
			}
			if err != nil {
				p.log("persist: write", "key", k, "err", err)
			}
		}
		p.mu.Lock()
		p.busy = false
		p.idle.Broadcast()
		p.mu.Unlock()
	}
}

// sync waits until everything handed over so far is written.
func (p *persister) sync() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.busy || p.wipe || len(p.pending) > 0 {
		p.signal()
		p.idle.Wait()
	}
}

// Sync waits until every state change made so far is in the store.
func (e *Engine) Sync() { e.persist.sync() }

func (e *Engine) persistLocked(key string, v any) { e.persist.set(key, v) }

func (e *Engine) wipeLocked() { e.persist.wipeAll() }

func (e *Engine) persistConversationLocked(with string) {
	conv := e.st.conversations[with]
	if len(conv) > persistedConv {
		conv = conv[len(conv)-persistedConv:]
	}
	e.persist.set(convPrefix+with, conv)
}

type storedRoster struct {
	Ver   string                `json:"ver"`
	Items []protocol.RosterItem `json:"items"`
}

func (e *Engine) persistRosterLocked() {
	e.persist.set(keyRoster, storedRoster{Ver: e.st.rosterVer, Items: e.st.rosterList()})
}

// Restore loads what a previous run of the engine stored, so tabs render the last known state at
// once, and if an account was signed in, logs in again silently with its stored keys.
// Call it once, before serving tabs.
func (e *Engine) Restore(ctx context.Context) error {
	var acct account
	ok, err := storage.GetJSON(ctx, e.store, keyAccount, &acct)
	if err != nil || !ok || (acct.Keys == nil && !acct.RelayAuth) {
		return err // nothing to log in with silently
	}
	var roster storedRoster
	if _, err := storage.GetJSON(ctx, e.store, keyRoster, &roster); err != nil {
		return err
	}
	var archived string
	if _, err := storage.GetJSON(ctx, e.store, keyArchived, &archived); err != nil {
		return err
	}
	convs, err := e.store.List(ctx, convPrefix)
	if err != nil {
		return err
	}
	applyProfile, err := e.loadProfile(ctx) // avatar hashes and blocklist (profile.go)
	if err != nil {
		return err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	applyProfile()
	e.acct = &acct
	for _, it := range roster.Items {
		e.st.roster[it.JID] = it
	}
	e.st.rosterVer = roster.Ver
	e.st.lastArchived = archived
	for _, c := range convs {
		var msgs []protocol.Message
		if err := json.Unmarshal([]byte(c.Value), &msgs); err != nil {
			e.log.Warn("skip unreadable stored conversation", "key", c.Key, "err", err)
			continue
		}
		for _, m := range msgs {
			e.st.addMessage(m)
		}
	}
	e.gen++
	e.setSessionLocked(protocol.Session{State: protocol.StateConnecting, JID: acct.JID})
	go e.reconnect(e.gen)
	return nil
}
