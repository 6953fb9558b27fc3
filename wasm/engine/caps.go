package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/wasm/disco"
	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/storage"
)

// Entity capabilities (XEP-0115): every presence we send carries the hash of our disco#info, so
// the server's PEP knows which notifications we want ("+notify" features) without asking each
// time; contacts' hashes are resolved with one disco#info per unknown hash, checked, and kept
// (in memory and in storage) so a feature list is known without asking anyone again.

const (
	// capsNode names this client in its caps (XEP-0115 §4).
	capsNode   = "https://sparkweb.example/"
	capsPrefix = "caps/" // storage: the features of a verified ver
	// maxCaps bounds the hashes held in memory: one per distinct client build seen.
	maxCaps = 1000
	// capsTimeout bounds one disco#info fetch of a contact's caps.
	capsTimeout = 20 * time.Second
)

// ownCaps is the <c/> we put in our presence.
func ownCaps() disco.Caps {
	ver, err := disco.Ver(ownInfo())
	if err != nil {
		panic(fmt.Sprintf("our own disco#info cannot be hashed: %v", err)) // a bug in ownInfo
	}
	return disco.Caps{Hash: "sha-1", Node: capsNode, Ver: ver}
}

// capsFetch is one disco#info fetch for a ver; done closes when features or err are set.
type capsFetch struct {
	done     chan struct{}
	features []string
	err      error
}

// storedCaps is what storage keeps per verified ver.
type storedCaps struct {
	Features []string `json:"features"`
}

// noteCapsLocked reads the caps of a presence from full and returns the ver to show (the
// empty string for caps we do not use: only sha-1 ones are verifiable). An unknown ver is
// resolved in the background. e.mu must be held.
func (e *Engine) noteCapsLocked(full jid.JID, c *disco.Caps) string {
	if c == nil || c.Hash != "sha-1" || c.Ver == "" || len(c.Ver) > 64 || len(c.Node) > 1024 {
		return ""
	}
	if e.svc.capsNodes == nil || len(e.svc.capsNodes) >= maxCaps {
		e.svc.capsNodes = map[string]string{}
	}
	e.svc.capsNodes[c.Ver] = c.Node
	if e.knownCapsLocked(c.Ver) == nil && e.svc.capsFetch[c.Ver] == nil {
		e.startCapsFetchLocked(c.Ver, full, c.Node)
	}
	return c.Ver
}

// startCapsFetchLocked resolves ver: from storage, else by asking from at node#ver and checking
// that the answer hashes to ver. e.mu must be held.
func (e *Engine) startCapsFetchLocked(ver string, from jid.JID, node string) *capsFetch {
	f := &capsFetch{done: make(chan struct{})}
	if e.svc.capsFetch == nil {
		e.svc.capsFetch = map[string]*capsFetch{}
	}
	e.svc.capsFetch[ver] = f
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), capsTimeout)
		defer cancel()
		features, err := e.fetchCaps(ctx, ver, from, node)
		e.mu.Lock()
		delete(e.svc.capsFetch, ver) // a failed ver is asked again, of the next resource announcing it
		if err == nil {
			e.rememberCapsLocked(ver, features)
		}
		e.mu.Unlock()
		f.features, f.err = features, err
		close(f.done)
		if err != nil {
			e.log.Info("caps not resolved", "ver", ver, "from", from.String(), "err", err)
		}
	}()
	return f
}

func (e *Engine) fetchCaps(ctx context.Context, ver string, from jid.JID, node string) ([]string, error) {
	var stored storedCaps
	if ok, err := storage.GetJSON(ctx, e.store, capsPrefix+ver, &stored); err == nil && ok && stored.Features != nil {
		return stored.Features, nil
	}
	info, err := e.discoInfo(ctx, from, node+"#"+ver)
	if err != nil {
		return nil, err
	}
	got, err := disco.Ver(info)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "caps of %s: %v", from, err)
	}
	if got != ver {
		// Someone announced a hash its features do not have: never cache it (XEP-0115 §5.4).
		return nil, protocol.Errorf(protocol.CodeBadRequest, "caps of %s: announced %s, its features hash to %s", from, ver, got)
	}
	features := info.FeatureList()
	e.mu.Lock()
	e.persistLocked(capsPrefix+ver, storedCaps{Features: features})
	e.mu.Unlock()
	return features, nil
}

// knownCapsLocked returns the features of a ver held in memory, nil if unknown. Our own ver is
// always known: our other resources and our own presence echo announce it. e.mu must be held.
func (e *Engine) knownCapsLocked(ver string) []string {
	if e.svc.caps == nil {
		e.svc.caps = map[string][]string{ownCaps().Ver: ownInfo().FeatureList()}
	}
	return e.svc.caps[ver]
}

// rememberCapsLocked keeps a verified ver in memory, within maxCaps. e.mu must be held.
func (e *Engine) rememberCapsLocked(ver string, features []string) {
	e.knownCapsLocked(ver)
	if len(e.svc.caps) >= maxCaps {
		for k := range e.svc.caps { // any one: it is still in storage
			delete(e.svc.caps, k)
			break
		}
	}
	e.svc.caps[ver] = features
}

// capsFeatures returns the features of ver, waiting for a fetch from from if needed.
func (e *Engine) capsFeatures(ctx context.Context, ver string, from jid.JID, node string) ([]string, error) {
	e.mu.Lock()
	if f := e.knownCapsLocked(ver); f != nil {
		e.mu.Unlock()
		return f, nil
	}
	fetch := e.svc.capsFetch[ver]
	if fetch == nil {
		fetch = e.startCapsFetchLocked(ver, from, node)
	}
	e.mu.Unlock()
	select {
	case <-fetch.done:
		return fetch.features, fetch.err
	case <-ctx.Done():
		return nil, protocol.Errorf(protocol.CodeNotConnected, "caps of %s: %v", from, ctx.Err())
	}
}

// opDiscoFeatures answers disco.features {jid}: the features of a full JID online, from the
// caps cache when its presence had caps, otherwise by asking it.
func (e *Engine) opDiscoFeatures(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		JID string `json:"jid"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	j, err := jidArg(args.JID)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	p, online := e.st.presence[j.String()]
	node := e.svc.capsNodes[p.Caps]
	e.mu.Unlock()
	type result struct {
		JID      string   `json:"jid"`
		Ver      string   `json:"ver,omitempty"`
		Features []string `json:"features"`
	}
	if online && p.Caps != "" {
		features, err := e.capsFeatures(ctx, p.Caps, j, node)
		if err != nil {
			return nil, err
		}
		return result{JID: j.String(), Ver: p.Caps, Features: features}, nil
	}
	info, err := e.discoInfo(ctx, j, "")
	if err != nil {
		return nil, err
	}
	return result{JID: j.String(), Features: info.FeatureList()}, nil
}
