package engine

import (
	"context"
	"encoding/json"

	"mellium.im/xmpp"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// Client state indication (XEP-0352): when no tab shows the app, the worker tells the engine
// (session.active {active: false}) and the engine tells the server, which may then hold back
// what is not urgent (presence updates) until the client is active again. The state is kept
// across reconnects and sent again on every new stream.
//
// Servers flush what they hold on any byte from the client (Prosody's mod_csi_simple does), so
// once the server knows we are inactive the engine keeps quiet: stream management asks for acks
// only when something is unacknowledged, and the keepalive waits inactiveKeepaliveFactor times
// longer. Both come back when the client is active again.

const (
	nsCSI = "urn:xmpp:csi:0"
	// inactiveKeepaliveFactor stretches the keepalive interval while the server holds stanzas
	// for us: each ping makes it flush.
	inactiveKeepaliveFactor = 5
)

// csiState is the data of the "csi" event and the result of session.active: whether the user is
// active, and whether the server has been told (it offers CSI and the session is online).
type csiState struct {
	Active bool `json:"active"`
	Sent   bool `json:"sent"`
}

func (e *Engine) opSessionActive(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Active *bool `json:"active"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	if args.Active == nil {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "active (true or false) required")
	}
	// One change at a time, so the server hears the states in the order they were set.
	e.svc.csiMu.Lock()
	defer e.svc.csiMu.Unlock()
	e.mu.Lock()
	changed := e.svc.inactive == *args.Active
	e.svc.inactive = !*args.Active
	sess := e.sess
	e.mu.Unlock()
	st := csiState{Active: *args.Active}
	if sess != nil {
		sent, err := e.sendCSI(ctx, sess, st.Active)
		if err != nil {
			e.log.Warn("send client state", "err", err) // the next stream sends it again
		}
		st.Sent = sent
	}
	e.setQuiet(st.Sent && !st.Active)
	if changed {
		e.mu.Lock()
		e.emitLocked("csi", st)
		e.mu.Unlock()
	}
	return st, nil
}

// sendCSI tells the server the client state, if it offers CSI; it reports whether it did.
func (e *Engine) sendCSI(ctx context.Context, sess *xmpp.Session, active bool) (bool, error) {
	if _, ok := sess.Feature(nsCSI); !ok {
		return false, nil
	}
	name := "inactive"
	if active {
		name = "active"
	}
	if err := sess.Send(ctx, emptyElement(nsCSI, name)); err != nil {
		return false, protocol.Errorf(protocol.CodeNotConnected, "send client state: %v", err)
	}
	return true, nil
}

// restoreCSI sends the client state on every new stream: a fresh session starts active on the
// server, and a resumed one may have missed a change while the connection was down.
func (e *Engine) restoreCSI(sess *xmpp.Session) {
	e.svc.csiMu.Lock()
	defer e.svc.csiMu.Unlock()
	e.mu.Lock()
	active := !e.svc.inactive
	e.mu.Unlock()
	sent, err := e.sendCSI(context.Background(), sess, active)
	if err != nil {
		e.log.Warn("send client state", "err", err)
	}
	e.setQuiet(sent && !active)
}

// setQuiet turns on or off what keeps an inactive client silent: no idle ack requests (the
// current stream's sm.State) and the stretched keepalive (ping.go).
func (e *Engine) setQuiet(quiet bool) {
	e.svc.quiet.Store(quiet)
	e.mu.Lock()
	st := e.sm
	e.mu.Unlock()
	if st != nil {
		st.SetIdle(quiet)
	}
}

// sessionUp starts what runs alongside every stream once it is online: the keepalive (ping.go)
// and the client state (csi.go).
func (e *Engine) sessionUp(sess *xmpp.Session, done <-chan struct{}) {
	go e.keepalive(sess, done)
	e.restoreCSI(sess)
}
