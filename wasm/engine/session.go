package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/coder/websocket"
	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/carbons"
	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/scram"
	"github.com/sparkweb/sparkweb/wasm/sm"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

const (
	// loginTimeout bounds one attempt, from the token request to the first presence.
	loginTimeout = 30 * time.Second
	// Reconnect backoff: exponential from backoffBase, capped, with jitter so that many clients
	// dropped together by a server restart do not come back together.
	backoffBase = 500 * time.Millisecond
	backoffCap  = 30 * time.Second
)

// account is what the engine keeps to log in again without the user: never the password.
type account struct {
	JID       string      `json:"jid"` // full JID: the resource stays the same across reconnects
	Keys      *scram.Keys `json:"keys,omitempty"`
	RelayAuth bool        `json:"relayAuth,omitempty"` // the relay authenticates the stream
	Token     string      `json:"token,omitempty"`
	TokenExp  time.Time   `json:"tokenExp,omitzero"`
}

func (e *Engine) opLogin(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		JID       string `json:"jid"`
		Password  string `json:"password"`
		Assertion string `json:"assertion"`
		Resource  string `json:"resource"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	// A site JWT (RFC 7523) is exchanged first: the relay's token names the user.
	var pre *grant
	if args.Assertion != "" {
		g, err := e.fetchToken(ctx, assertionGrant(args.Assertion))
		if err != nil {
			return nil, err
		}
		if args.JID, err = tokenSubject(g.token); err != nil {
			return nil, protocol.Errorf(protocol.CodeInternal, "%v", err)
		}
		pre = &g
	}
	j, err := jid.Parse(args.JID)
	if err != nil || j.Localpart() == "" {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "invalid JID %q: use user@domain", args.JID)
	}
	if args.Password == "" && pre == nil {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "password or assertion required")
	}
	resource := args.Resource
	if resource == "" {
		resource = j.Resourcepart()
	}
	if resource == "" {
		resource = "sparkweb-" + randomID()[:8]
	}
	if j, err = j.Bare().WithResource(resource); err != nil {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "invalid resource %q", resource)
	}

	e.mu.Lock()
	switch e.st.session.State {
	case protocol.StateConnecting, protocol.StateOnline, protocol.StateReconnecting:
		e.mu.Unlock()
		return nil, protocol.Errorf(protocol.CodeConflict, "already %s as %s", e.st.session.State, e.st.session.JID)
	}
	// Compared bare: each login without a resource picks a new one, and signing in again as the
	// same account (after auth-failed) must keep its outbox and history.
	if e.acct != nil && bare(e.acct.JID) != j.Bare().String() {
		// Another account signs in: nothing of the previous one may show.
		e.forgetLocked()
	}
	e.gen++
	gen := e.gen
	e.acct = &account{JID: j.String()}
	if pre != nil {
		e.acct.Token, e.acct.TokenExp, e.acct.RelayAuth = pre.token, pre.exp, pre.relayAuth
	}
	e.setSessionLocked(protocol.Session{State: protocol.StateConnecting, JID: j.Bare().String()})
	e.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	bound, err := e.connect(ctx, gen, args.Password)
	if err != nil {
		perr := protocol.AsError(err)
		e.log.Info("login failed", "jid", j.Bare().String(), "code", perr.Code, "err", perr.Message)
		e.mu.Lock()
		if e.gen == gen {
			st := protocol.StateOffline
			if perr.Code == protocol.CodeNotAuthorized {
				st = protocol.StateAuthFailed
			}
			e.gen++ // stops a reconnect loop a half-made session may have started
			e.acct = nil
			e.dropSessionLocked()
			e.setSessionLocked(protocol.Session{State: st, JID: j.Bare().String(), Error: perr})
		}
		e.mu.Unlock()
		return nil, perr
	}
	return map[string]string{"jid": bound.String()}, nil
}

// connect makes one login attempt for e.acct: token, WebSocket, SASL (with the password if
// given, else the stored keys) and bind, roster, carbons, initial presence; then it goes online,
// flushes the outbox and catches up from the archive.
func (e *Engine) connect(ctx context.Context, gen int, password string) (jid.JID, error) {
	e.mu.Lock()
	if e.acct == nil || e.gen != gen {
		e.mu.Unlock()
		return jid.JID{}, protocol.Errorf(protocol.CodeConflict, "signed out meanwhile")
	}
	acct := *e.acct
	e.mu.Unlock()
	j := jid.MustParse(acct.JID)

	g, err := e.relayToken(ctx, j, password, acct)
	if err != nil {
		return jid.JID{}, err
	}
	wsURL, err := e.bridgeURL(g.token)
	if err != nil {
		return jid.JID{}, protocol.Errorf(protocol.CodeInternal, "%v", err)
	}
	conn, err := xmppws.Dial(ctx, wsURL, &xmppws.DialOptions{HTTPClient: e.cfg.HTTPClient})
	if err != nil {
		var he *xmppws.HandshakeError
		if errors.As(err, &he) && he.Status == 401 {
			return jid.JID{}, protocol.Errorf(protocol.CodeNotAuthorized, "relay refused the token")
		}
		return jid.JID{}, protocol.Errorf(protocol.CodeServerUnreachable, "relay WebSocket unreachable: %v", err)
	}
	var keys scram.Keys
	cfg := xmppws.LoginConfig{
		JID:        j,
		Mechanisms: scram.Mechanisms(password, acct.Keys, func(k scram.Keys) { keys = k }),
	}
	if g.relayAuth {
		// The relay replaces the PLAIN payload with credentials of its own for the token's user;
		// no XMPP credential ever reaches the browser.
		cfg.Mechanisms, cfg.Password = []sasl.Mechanism{sasl.Plain}, "relay"
	}
	// Resume the stream where the server still holds it (XEP-0198): nothing to fetch again and
	// nothing lost; the server resends what we had not acknowledged and we resend what it had not.
	e.mu.Lock()
	st := e.sm
	e.mu.Unlock()
	resumed := false
	var sess *xmpp.Session
	if st != nil && st.Resumable() && password == "" {
		sess, err = st.Resume(ctx, conn, cfg)
		var failed *sm.FailedError
		switch {
		case err == nil:
			resumed = true
		case errors.As(err, &failed):
			// The server forgot the session: log in afresh on a new connection. Unacknowledged
			// messages are still in the outbox and go out again; receivers know them by origin-id.
			e.log.Info("stream not resumed", "condition", failed.Condition)
			_ = conn.Close()
			if conn, err = xmppws.Dial(ctx, wsURL, &xmppws.DialOptions{HTTPClient: e.cfg.HTTPClient}); err != nil {
				return jid.JID{}, protocol.Errorf(protocol.CodeServerUnreachable, "relay WebSocket unreachable: %v", err)
			}
		default:
			_ = conn.Close()
			return jid.JID{}, loginError(conn, err) // the state is intact: the next attempt resumes
		}
	}
	if !resumed {
		st = sm.New(sm.Options{Acked: e.onAcked, Logger: e.log, AckInterval: e.cfg.AckInterval})
		if sess, err = st.Login(ctx, conn, cfg); err != nil {
			_ = conn.Close()
			return jid.JID{}, loginError(conn, err)
		}
	}

	done := make(chan struct{})
	e.mu.Lock()
	if e.gen != gen { // logged out meanwhile
		e.mu.Unlock()
		_ = sess.Close()
		_ = conn.Close()
		return jid.JID{}, protocol.Errorf(protocol.CodeConflict, "login cancelled")
	}
	e.sess, e.conn, e.done, e.sm = sess, conn, done, st
	if keys.SaltedPassword != nil {
		e.acct.Keys = &keys
	}
	e.acct.Token, e.acct.TokenExp, e.acct.RelayAuth = g.token, g.exp, g.relayAuth
	e.persistLocked(keyAccount, *e.acct)
	if !resumed {
		e.outboxSent = map[string]bool{} // a new stream: nothing of ours is on its way
		e.catchUpPending = true          // what arrived while no stream was up is in the archive
		e.clearPresenceLocked()          // the server sends every contact's presence again
		e.roomsRejoiningLocked()         // and has forgotten our rooms (muc.go)
	}
	e.mu.Unlock()
	go e.serve(gen, sess, conn, done)
	if resumed {
		return e.goOnline(gen, sess, done)
	}

	// From here a failure closes the connection: serve then sees the stream end and the session
	// goes to reconnecting, as for any other drop.
	if err := e.fetchRoster(ctx, sess); err != nil {
		_ = conn.Close()
		return jid.JID{}, err
	}
	// Carbons make messages of our other clients appear here too; a server without them still works.
	if err := carbons.Enable(ctx, sess); err != nil {
		e.log.Warn("carbons unavailable", "err", err)
	}
	e.pushResume(ctx, sess) // a new session must enable push again (push.go)
	if err := e.sendPresence(ctx, sess, e.ownPresence()); err != nil {
		_ = conn.Close()
		return jid.JID{}, protocol.Errorf(protocol.CodeServerUnreachable, "initial presence: %v", err)
	}
	e.mucFreshLogin(sess) // the server forgot our rooms: join them again, and autojoin bookmarks (muc.go)
	// The blocklist and our own avatar may have changed meanwhile (profile.go).
	go e.profileFreshLogin(sess)

	return e.goOnline(gen, sess, done)
}

// goOnline announces the session online and starts sending the outbox; while a catch-up is
// pending (after a fresh login, or one cut short) it catches up from the archive position. A
// resumed stream by itself lost nothing to catch up on.
func (e *Engine) goOnline(gen int, sess *xmpp.Session, done chan struct{}) (jid.JID, error) {
	e.mu.Lock()
	if e.gen != gen || e.sess != sess {
		e.mu.Unlock()
		return jid.JID{}, protocol.Errorf(protocol.CodeServerUnreachable, "connection lost during login")
	}
	bound := sess.LocalAddr()
	e.setSessionLocked(protocol.Session{State: protocol.StateOnline, JID: bound.String()})
	catchUp := e.catchUpPending
	e.mu.Unlock()
	e.log.Info("online", "jid", bound.String())
	go e.pumpOutbox(sess, done)
	go e.sessionUp(sess, done) // keepalive and client state (csi.go)
	if catchUp {
		go func() {
			if err := e.catchUp(context.Background(), sess); err != nil {
				e.log.Warn("archive catch-up failed", "err", err)
			}
		}()
	}
	return bound, nil
}

// loginError says why stream negotiation on conn failed, as the user should hear it.
func loginError(conn *xmppws.Conn, err error) error {
	switch {
	case errors.Is(err, xmppws.ErrNotAuthorized):
		return protocol.Errorf(protocol.CodeNotAuthorized, "wrong username or password")
	case errors.Is(err, scram.ErrStaleKeys):
		return protocol.Errorf(protocol.CodeNotAuthorized, "the password has changed: sign in again")
	case conn.CloseStatus() == websocket.StatusBadGateway:
		return protocol.Errorf(protocol.CodeServerUnreachable, "XMPP server unreachable: %s", conn.CloseReason())
	}
	return protocol.Errorf(protocol.CodeServerUnreachable, "stream negotiation failed: %v", err)
}

// relayToken returns a relay JWT: from the password when there is one, else the one we hold
// while it is still good, else a new one for the relay's refresh cookie.
func (e *Engine) relayToken(ctx context.Context, j jid.JID, password string, acct account) (grant, error) {
	if password != "" {
		return e.fetchToken(ctx, passwordGrant(j, password))
	}
	if acct.Token != "" && time.Until(acct.TokenExp) > 30*time.Second {
		return grant{token: acct.Token, exp: acct.TokenExp, relayAuth: acct.RelayAuth}, nil
	}
	g, err := e.fetchToken(ctx, refreshGrant())
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.Code == protocol.CodeNotAuthorized {
		return grant{}, protocol.Errorf(protocol.CodeNotAuthorized, "the sign-in has expired: sign in again")
	}
	return g, err
}

// serve reads the stream until it ends; an end we did not ask for starts reconnecting.
func (e *Engine) serve(gen int, sess *xmpp.Session, conn *xmppws.Conn, done chan struct{}) {
	defer close(done)
	err := sess.Serve(xmpp.HandlerFunc(e.handle))
	_ = conn.Close()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gen != gen || e.sess != sess {
		return
	}
	e.log.Warn("stream ended", "err", err, "ws_status", conn.CloseStatus())
	reason := "connection lost"
	if err != nil {
		reason = fmt.Sprintf("connection lost: %v", err)
	}
	// Contacts' presence stays as last known: a resumed stream does not send it again.
	e.sess, e.conn, e.done = nil, nil, nil
	e.setSessionLocked(protocol.Session{
		State: protocol.StateReconnecting,
		JID:   sess.LocalAddr().String(),
		Error: protocol.Errorf(protocol.CodeServerUnreachable, "%s", reason),
	})
	if !e.retrying { // a failed reconnect attempt also ends here; its loop goes on by itself
		go e.reconnect(gen)
	}
}

// reconnect logs in again with the stored keys until it works, the credentials are refused,
// or the user logs out.
func (e *Engine) reconnect(gen int) {
	e.mu.Lock()
	if e.retrying {
		e.mu.Unlock()
		return
	}
	e.retrying = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.retrying = false
		e.mu.Unlock()
	}()
	for attempt := 0; ; attempt++ {
		select {
		case <-time.After(backoff(attempt)):
		case <-e.kick:
		}
		e.mu.Lock()
		if e.gen != gen || e.acct == nil {
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
		_, err := e.connect(ctx, gen, "")
		cancel()
		if err == nil {
			return
		}
		perr := protocol.AsError(err)
		e.mu.Lock()
		if e.gen != gen {
			e.mu.Unlock()
			return
		}
		st := protocol.StateReconnecting
		if perr.Code == protocol.CodeNotAuthorized {
			st = protocol.StateAuthFailed
		}
		e.setSessionLocked(protocol.Session{State: st, JID: e.acct.JID, Error: perr})
		e.mu.Unlock()
		e.log.Info("reconnect failed", "attempt", attempt, "code", perr.Code, "err", perr.Message)
		if st == protocol.StateAuthFailed {
			return
		}
	}
}

// backoff is the wait before reconnect attempt n: 0 for the first, then exponential with jitter.
func backoff(n int) time.Duration {
	if n == 0 {
		return 0
	}
	d := backoffCap
	if n < 16 {
		d = min(backoffCap, backoffBase<<(n-1))
	}
	return d/2 + mrand.N(d/2+1)
}

// opReconnect retries at once, e.g. when the browser reports the network is back.
func (e *Engine) opReconnect(context.Context, json.RawMessage) (any, error) {
	select {
	case e.kick <- struct{}{}:
	default:
	}
	return nil, nil
}

func (e *Engine) opLogout(ctx context.Context, _ json.RawMessage) (any, error) {
	e.pushLogout(ctx) // while the session and token still exist (push.go)
	e.revokeRefresh(ctx)
	e.mu.Lock()
	sess, conn, done := e.sess, e.conn, e.done
	e.gen++
	e.dropSessionLocked()
	e.forgetLocked()
	e.setSessionLocked(protocol.Session{State: protocol.StateOffline})
	e.mu.Unlock()
	if sess == nil {
		return nil, nil
	}
	// Going unavailable first lets contacts see us leave even if the close races the network.
	_ = e.sendPresence(ctx, sess, presenceArgs{unavailable: true})
	// Session.Close ends the stream; xmppws turns that into RFC 7395's <close/>, and the
	// server answers with its own before closing the socket.
	_ = sess.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
	}
	_ = conn.Close()
	return nil, nil
}

// Close stops the engine as closing the browser would: the connection drops without a goodbye
// (the server may keep the session for resumption), and everything stored stays stored.
func (e *Engine) Close() {
	e.mu.Lock()
	e.gen++
	conn := e.conn
	e.dropSessionLocked()
	e.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
	e.persist.sync()
}

// opHandover stops the session for a newer engine (an upgrade): like Close, it keeps the account
// and everything stored, so the newer engine logs in again silently and sends what is pending.
func (e *Engine) opHandover(context.Context, json.RawMessage) (any, error) {
	e.Close()
	return nil, nil
}

// forgetLocked drops the account and everything stored for it: after a logout, the next
// person at this browser sees nothing of it.
func (e *Engine) forgetLocked() {
	e.acct = nil
	e.st = newState()
	e.wipeLocked()
}

// dropSessionLocked forgets the live session and everything that only holds while online.
func (e *Engine) dropSessionLocked() {
	e.sess, e.conn, e.done, e.sm = nil, nil, nil, nil
	e.clearPresenceLocked()
}

// clearPresenceLocked marks every known presence unavailable.
func (e *Engine) clearPresenceLocked() {
	for full, p := range e.st.presence {
		delete(e.st.presence, full)
		p.Show, p.Status = "unavailable", ""
		e.emitLocked("presence", p)
	}
}

func (e *Engine) setSessionLocked(s protocol.Session) {
	e.st.session = s
	e.emitLocked("session", s)
}

// online returns the live session or a not-connected error.
func (e *Engine) online() (*xmpp.Session, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sess == nil {
		return nil, protocol.Errorf(protocol.CodeNotConnected, "not connected")
	}
	return e.sess, nil
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
