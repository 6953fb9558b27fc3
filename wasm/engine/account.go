package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/scram"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// Account management (XEP-0077). Signing up happens before there is a session, so it goes
// through the relay's /api/register, which registers upstream; changing the password and
// deleting the account are IQs on our own stream.

const (
	nsRegister  = "jabber:iq:register"
	maxPassword = 1024
)

// RegisterForm is the result of account.registerForm: what the server asks of a new account.
type RegisterForm struct {
	Domain       string         `json:"domain"`
	Instructions string         `json:"instructions"`
	Fields       []string       `json:"fields"`
	Form         *protocol.Form `json:"form,omitempty"`
}

// relayAPI calls the relay's /api/register with method and a JSON body (nil for none) and
// decodes a successful answer into out. A refusal comes back with the relay's error code.
func (e *Engine) relayRegister(ctx context.Context, method, query string, body any, out any) error {
	u := strings.TrimRight(e.cfg.RelayURL, "/") + "/api/register"
	if query != "" {
		u += "?" + query
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return protocol.Errorf(protocol.CodeInternal, "encode registration: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return protocol.Errorf(protocol.CodeInternal, "registration request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := e.cfg.HTTPClient.Do(req)
	if err != nil {
		return protocol.Errorf(protocol.CodeServerUnreachable, "relay unreachable: %v", err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, 256<<10))
	if resp.StatusCode/100 == 2 {
		if err := dec.Decode(out); err != nil {
			return protocol.Errorf(protocol.CodeServerUnreachable, "relay answered HTTP %d with a body we cannot read", resp.StatusCode)
		}
		return nil
	}
	var rerr struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = dec.Decode(&rerr)
	code := rerr.Error
	switch {
	case resp.StatusCode == http.StatusNotFound:
		// A relay without the endpoint cannot register anyone.
		code, rerr.Description = "not-allowed", "this relay does not offer registration"
	case code == "temporarily_unavailable" || resp.StatusCode == http.StatusBadGateway:
		code = protocol.CodeServerUnreachable
	case code == "too_many_requests":
		code = "resource-constraint"
	case code == "invalid_request" || code == "":
		code = protocol.CodeBadRequest
	}
	if rerr.Description == "" {
		rerr.Description = http.StatusText(resp.StatusCode)
	}
	return protocol.Errorf(code, "registration: %s", rerr.Description)
}

func (e *Engine) opRegisterForm(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Domain string `json:"domain"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	var q string
	if args.Domain != "" {
		d, err := jid.Parse(args.Domain)
		if err != nil || d.Localpart() != "" || d.Resourcepart() != "" {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "invalid domain %q", args.Domain)
		}
		q = url.Values{"domain": {d.String()}}.Encode()
	}
	var out RegisterForm
	if err := e.relayRegister(ctx, http.MethodGet, q, nil, &out); err != nil {
		return nil, err
	}
	if out.Fields == nil {
		out.Fields = []string{}
	}
	return out, nil
}

func (e *Engine) opRegister(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		JID      string `json:"jid"`
		Password string `json:"password"`
		Email    string `json:"email"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	j, err := jid.Parse(args.JID)
	if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "invalid JID %q: use user@domain", args.JID)
	}
	if err := checkPassword(args.Password); err != nil {
		return nil, err
	}
	var out struct {
		JID string `json:"jid"`
	}
	body := map[string]string{"username": j.String(), "password": args.Password, "email": args.Email}
	if err := e.relayRegister(ctx, http.MethodPost, "", body, &out); err != nil {
		return nil, err
	}
	return map[string]string{"jid": out.JID}, nil
}

func checkPassword(p string) error {
	if p == "" || len(p) > maxPassword || !utf8.ValidString(p) {
		return protocol.Errorf(protocol.CodeBadRequest, "the password must be valid UTF-8, 1 to %d bytes", maxPassword)
	}
	return nil
}

// opPassword changes the account's password in band, then derives the login keys for the new
// password so that a silent re-login keeps working: the old keys stop working at once.
func (e *Engine) opPassword(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Password string `json:"password"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	if err := checkPassword(args.Password); err != nil {
		return nil, err
	}
	sess, err := e.online()
	if err != nil {
		return nil, err
	}
	me := sess.LocalAddr()
	q := xmlstream.Wrap(xmlstream.MultiReader(textElement("username", me.Localpart()), textElement("password", args.Password)),
		xml.StartElement{Name: xml.Name{Space: nsRegister, Local: "query"}})
	if err := e.sendIQ(ctx, "change password", stanza.SetIQ, me.Domain(), q, nil); err != nil {
		return nil, err
	}
	if err := e.renewLogin(ctx, me.Bare(), args.Password); err != nil {
		// The password did change: only the silent re-login is at risk, and the next one will
		// ask for the password. Say so rather than fail the change.
		e.log.Warn("password changed, but new login keys could not be made", "err", err)
		return map[string]any{"keys": false}, nil
	}
	return map[string]any{"keys": true}, nil
}

// renewLogin gets a relay token with the new password and, when the engine logs in by SCRAM,
// new keys by a SASL-only login on a second, short-lived connection (nothing is bound, so no
// session appears), then stores both: the live session stays as it is.
func (e *Engine) renewLogin(ctx context.Context, user jid.JID, password string) error {
	g, err := e.fetchToken(ctx, passwordGrant(user, password))
	if err != nil {
		return err
	}
	var keys *scram.Keys
	if !g.relayAuth {
		wsURL, err := e.bridgeURL(g.token)
		if err != nil {
			return err
		}
		conn, err := xmppws.Dial(ctx, wsURL, &xmppws.DialOptions{HTTPClient: e.cfg.HTTPClient})
		if err != nil {
			return err
		}
		defer conn.Close()
		got := scram.Keys{}
		s, err := xmppws.Login(ctx, conn, xmppws.LoginConfig{JID: user, NoBind: true,
			Mechanisms: scram.Mechanisms(password, nil, func(k scram.Keys) { got = k })})
		if err != nil {
			return err
		}
		_ = s.Close()
		if got.SaltedPassword == nil {
			return errors.New("the server did not use SCRAM")
		}
		keys = &got
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.acct == nil || !jid.MustParse(e.acct.JID).Bare().Equal(user) {
		return errors.New("signed out meanwhile")
	}
	if keys != nil {
		e.acct.Keys = keys
	}
	e.acct.Token, e.acct.TokenExp, e.acct.RelayAuth = g.token, g.exp, g.relayAuth
	e.persistLocked(keyAccount, *e.acct)
	return nil
}

// opDelete removes the account from the server (XEP-0077 §3.2), then signs out and wipes
// everything stored for it, as a logout does.
func (e *Engine) opDelete(ctx context.Context, _ json.RawMessage) (any, error) {
	sess, err := e.online()
	if err != nil {
		return nil, err
	}
	q := xmlstream.Wrap(xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "remove"}}),
		xml.StartElement{Name: xml.Name{Space: nsRegister, Local: "query"}})
	if err := e.sendIQ(ctx, "delete account", stanza.SetIQ, sess.LocalAddr().Domain(), q, nil); err != nil {
		return nil, err
	}
	// Nobody may sign in again with this browser's refresh token: the account is gone.
	e.revokeRefresh(ctx)
	e.mu.Lock()
	conn := e.conn
	e.gen++ // the server ends the stream: no reconnect
	e.dropSessionLocked()
	e.forgetLocked()
	e.setSessionLocked(protocol.Session{State: protocol.StateOffline})
	e.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
	return nil, nil
}

// revokeRefreshTimeout bounds what a sign-out spends revoking the refresh token.
const revokeRefreshTimeout = 5 * time.Second

// revokeRefresh asks the relay to revoke this browser's refresh token (POST /api/token/revoke;
// the HttpOnly cookie travels by itself) so that a sign-out or a deleted account cannot be
// revived from it. A relay without refresh tokens has no such endpoint; failures are logged,
// never block the sign-out.
func (e *Engine) revokeRefresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, revokeRefreshTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(e.cfg.RelayURL, "/")+"/api/token/revoke", nil)
	if err != nil {
		e.log.Warn("refresh token not revoked", "err", err)
		return
	}
	req.Header.Set("Accept", "application/json")
	resp, err := e.cfg.HTTPClient.Do(req)
	if err != nil {
		e.log.Warn("refresh token not revoked", "err", err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
		e.log.Warn("refresh token not revoked", "status", resp.Status)
	}
}
