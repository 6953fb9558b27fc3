package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/carbons"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// loginTimeout bounds everything from the token request to the first presence.
const loginTimeout = 30 * time.Second

func (e *Engine) opLogin(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		JID      string `json:"jid"`
		Password string `json:"password"`
		Resource string `json:"resource"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	j, err := jid.Parse(args.JID)
	if err != nil || j.Localpart() == "" {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "invalid JID %q: use user@domain", args.JID)
	}
	if args.Password == "" {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "password required")
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
	case protocol.StateConnecting, protocol.StateOnline:
		e.mu.Unlock()
		return nil, protocol.Errorf(protocol.CodeConflict, "already %s as %s", e.st.session.State, e.st.session.JID)
	}
	e.gen++
	gen := e.gen
	e.setSessionLocked(protocol.Session{State: protocol.StateConnecting, JID: j.Bare().String()})
	e.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	bound, err := e.connect(ctx, gen, j, args.Password)
	if err != nil {
		perr := protocol.AsError(err)
		e.log.Info("login failed", "jid", j.Bare().String(), "code", perr.Code, "err", perr.Message)
		e.mu.Lock()
		if e.gen == gen {
			st := protocol.StateOffline
			if perr.Code == protocol.CodeNotAuthorized {
				st = protocol.StateAuthFailed
			}
			e.dropSessionLocked()
			e.setSessionLocked(protocol.Session{State: st, JID: j.Bare().String(), Error: perr})
		}
		e.mu.Unlock()
		return nil, perr
	}
	return map[string]string{"jid": bound.String()}, nil
}

// connect runs the whole login: token, WebSocket, SASL and bind, roster, initial presence.
func (e *Engine) connect(ctx context.Context, gen int, j jid.JID, password string) (jid.JID, error) {
	token, err := e.fetchToken(ctx, j, password)
	if err != nil {
		return jid.JID{}, err
	}
	wsURL, err := e.bridgeURL(token)
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
	sess, err := xmppws.Login(ctx, conn, xmppws.LoginConfig{JID: j, Password: password})
	if err != nil {
		_ = conn.Close()
		switch {
		case errors.Is(err, xmppws.ErrNotAuthorized):
			return jid.JID{}, protocol.Errorf(protocol.CodeNotAuthorized, "wrong username or password")
		case conn.CloseStatus() == websocket.StatusBadGateway:
			return jid.JID{}, protocol.Errorf(protocol.CodeServerUnreachable, "XMPP server unreachable: %s", conn.CloseReason())
		}
		return jid.JID{}, protocol.Errorf(protocol.CodeServerUnreachable, "stream negotiation failed: %v", err)
	}

	done := make(chan struct{})
	e.mu.Lock()
	if e.gen != gen { // logged out meanwhile
		e.mu.Unlock()
		_ = sess.Close()
		_ = conn.Close()
		return jid.JID{}, protocol.Errorf(protocol.CodeConflict, "login cancelled")
	}
	e.sess, e.conn, e.done = sess, conn, done
	e.mu.Unlock()
	go e.serve(gen, sess, conn, done)

	if err := e.fetchRoster(ctx, sess); err != nil {
		return jid.JID{}, err
	}
	// Carbons make messages of our other clients appear here too; a server without them still works.
	if err := carbons.Enable(ctx, sess); err != nil {
		e.log.Warn("carbons unavailable", "err", err)
	}
	if err := e.sendPresence(ctx, sess, presenceArgs{}); err != nil {
		return jid.JID{}, protocol.Errorf(protocol.CodeInternal, "initial presence: %v", err)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gen != gen || e.sess != sess {
		return jid.JID{}, protocol.Errorf(protocol.CodeServerUnreachable, "connection lost during login")
	}
	bound := sess.LocalAddr()
	e.setSessionLocked(protocol.Session{State: protocol.StateOnline, JID: bound.String()})
	e.log.Info("online", "jid", bound.String())
	go func() {
		if err := e.catchUp(context.Background(), sess); err != nil {
			e.log.Warn("archive catch-up failed", "err", err)
		}
	}()
	return bound, nil
}

// serve reads the stream until it ends, then reports the session offline unless a newer login
// or a logout already took over.
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
	e.dropSessionLocked()
	e.setSessionLocked(protocol.Session{
		State: protocol.StateOffline,
		JID:   sess.LocalAddr().Bare().String(),
		Error: protocol.Errorf(protocol.CodeServerUnreachable, "%s", reason),
	})
}

func (e *Engine) opLogout(ctx context.Context, _ json.RawMessage) (any, error) {
	e.mu.Lock()
	sess, conn, done := e.sess, e.conn, e.done
	e.gen++
	e.dropSessionLocked()
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

// dropSessionLocked forgets the live session and everything that only holds while online.
func (e *Engine) dropSessionLocked() {
	e.sess, e.conn, e.done = nil, nil, nil
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

const nsRoster = "jabber:iq:roster"

// rosterQuery is jabber:iq:roster's <query/>, in a fetch result and in a push. mellium's roster
// package drops the ask attribute, which the UI needs to show pending requests.
type rosterQuery struct {
	Ver   string `xml:"ver,attr"`
	Items []struct {
		JID          string   `xml:"jid,attr"`
		Name         string   `xml:"name,attr"`
		Subscription string   `xml:"subscription,attr"`
		Ask          string   `xml:"ask,attr"`
		Groups       []string `xml:"group"`
	} `xml:"item"`
}

func (q rosterQuery) items() []protocol.RosterItem {
	out := make([]protocol.RosterItem, 0, len(q.Items))
	for _, it := range q.Items {
		j, err := jid.Parse(it.JID)
		if err != nil {
			continue // a bad item is skipped, not fatal: the rest of the roster still works
		}
		sub, groups := it.Subscription, it.Groups
		if sub == "" {
			sub = "none"
		}
		if groups == nil {
			groups = []string{}
		}
		out = append(out, protocol.RosterItem{JID: j.Bare().String(), Name: it.Name, Subscription: sub, Ask: it.Ask == "subscribe", Groups: groups})
	}
	return out
}

func (e *Engine) fetchRoster(ctx context.Context, sess *xmpp.Session) error {
	var q rosterQuery
	err := sess.UnmarshalIQElement(ctx,
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: nsRoster, Local: "query"}}),
		stanza.IQ{XMLName: xml.Name{Space: stanza.NSClient, Local: "iq"}, ID: randomID(), Type: stanza.GetIQ}, &q)
	var se stanza.Error
	switch {
	case errors.As(err, &se):
		return stanzaError(&se, "fetch roster")
	case err != nil:
		return protocol.Errorf(protocol.CodeInternal, "fetch roster: %v", err)
	}
	items := q.items()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.st.roster = make(map[string]protocol.RosterItem, len(items))
	for _, it := range items {
		e.st.roster[it.JID] = it
	}
	e.emitLocked("roster", protocol.Roster{Items: e.st.rosterList(), Full: true})
	return nil
}

func (e *Engine) opRosterList(context.Context, json.RawMessage) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return protocol.Roster{Items: e.st.rosterList(), Full: true}, nil
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
