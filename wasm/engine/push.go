package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/storage"
)

const (
	// keyPush stores the push registration of this browser (pushState).
	keyPush = "push"

	nsPush          = "urn:xmpp:push:0"
	nsDataForm      = "jabber:x:data"
	formPublishOpts = "http://jabber.org/protocol/pubsub#publish-options"
	// codeItemNotFound is the stable error code for a subscription the relay does not know.
	codeItemNotFound = "item-not-found"
	// pushLogoutTimeout bounds what logout spends turning push off; logout happens regardless.
	pushLogoutTimeout = 5 * time.Second
)

// pushState is what the engine keeps of its push registration: enough to enable it again on a
// new session and to remove this browser's subscription at logout.
type pushState struct {
	Service  string `json:"service"`
	Node     string `json:"node"`
	Secret   string `json:"secret"`
	Endpoint string `json:"endpoint"`
}

// opPushRegister registers the browser's PushSubscription with the relay and enables XEP-0357
// on the XMPP server with the relay's push component, node and secret.
func (e *Engine) opPushRegister(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Subscription json.RawMessage `json:"subscription"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	var sub struct {
		Endpoint string `json:"endpoint"`
	}
	if len(args.Subscription) == 0 || json.Unmarshal(args.Subscription, &sub) != nil || sub.Endpoint == "" {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "subscription: want the PushSubscription's JSON, with an endpoint")
	}
	sess, err := e.online()
	if err != nil {
		return nil, err
	}
	var reg struct {
		Service string `json:"service"`
		Node    string `json:"node"`
		Secret  string `json:"secret"`
	}
	if err := e.relayPush(ctx, http.MethodPost, args.Subscription, http.StatusCreated, &reg); err != nil {
		return nil, err
	}
	st := pushState{Service: reg.Service, Node: reg.Node, Secret: reg.Secret, Endpoint: sub.Endpoint}
	if err := enablePush(ctx, sess, st); err != nil {
		return nil, err
	}
	if err := storage.PutJSON(ctx, e.store, keyPush, st); err != nil {
		return nil, protocol.Errorf(protocol.CodeInternal, "store push registration: %v", err)
	}
	e.log.Info("push enabled", "service", st.Service)
	return map[string]bool{"enabled": true}, nil
}

// opPushUnregister removes a subscription (this browser's by default) at the relay; when it was
// the account's last one, it disables XEP-0357 on the server too.
func (e *Engine) opPushUnregister(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Endpoint string `json:"endpoint"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	var st pushState
	if _, err := storage.GetJSON(ctx, e.store, keyPush, &st); err != nil {
		return nil, protocol.Errorf(protocol.CodeInternal, "read push registration: %v", err)
	}
	if args.Endpoint == "" {
		args.Endpoint = st.Endpoint
	}
	if args.Endpoint == "" {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "endpoint: required (push is not registered here)")
	}
	remaining, err := e.pushOff(ctx, st, args.Endpoint)
	if err != nil {
		return nil, err
	}
	return map[string]any{"enabled": false, "remaining": remaining}, nil
}

// pushOff removes endpoint at the relay and, if the account has no subscription left, disables
// push on the server (when online). It forgets the stored registration if it was endpoint's.
func (e *Engine) pushOff(ctx context.Context, st pushState, endpoint string) (int, error) {
	body, _ := json.Marshal(map[string]string{"endpoint": endpoint})
	var res struct {
		Remaining int `json:"remaining"`
	}
	err := e.relayPush(ctx, http.MethodDelete, body, http.StatusOK, &res)
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.Code == codeItemNotFound {
		err = nil // already gone (the push service reported it, or another tab removed it)
	} else if err != nil {
		return 0, err
	}
	if endpoint == st.Endpoint {
		if err := e.store.Delete(ctx, keyPush); err != nil {
			return 0, protocol.Errorf(protocol.CodeInternal, "forget push registration: %v", err)
		}
	}
	if res.Remaining == 0 && st.Node != "" {
		if sess, oerr := e.online(); oerr == nil {
			if err := disablePush(ctx, sess, st); err != nil {
				return 0, err
			}
		}
	}
	return res.Remaining, nil
}

// pushLogout turns push off for this browser before a logout: nobody signed in here should get
// this account's notifications. Failures are logged, never block the logout.
func (e *Engine) pushLogout(ctx context.Context) {
	var st pushState
	if ok, err := storage.GetJSON(ctx, e.store, keyPush, &st); err != nil || !ok || st.Endpoint == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, pushLogoutTimeout)
	defer cancel()
	if _, err := e.pushOff(ctx, st, st.Endpoint); err != nil {
		e.log.Warn("push not turned off at logout", "err", err)
	}
}

// pushResume enables push again on a new (not resumed) session: servers such as Prosody tie
// the hibernation pushes to the session that enabled them.
func (e *Engine) pushResume(ctx context.Context, sess *xmpp.Session) {
	var st pushState
	if ok, err := storage.GetJSON(ctx, e.store, keyPush, &st); err != nil || !ok || st.Node == "" {
		return
	}
	if err := enablePush(ctx, sess, st); err != nil {
		e.log.Warn("push not enabled again on the new session", "err", err)
	}
}

// enablePush sends XEP-0357 <enable/> with the secret in the publish-options.
func enablePush(ctx context.Context, sess *xmpp.Session, st pushState) error {
	field := func(name, value string) xml.TokenReader {
		return xmlstream.Wrap(
			xmlstream.Wrap(xmlstream.Token(xml.CharData(value)), xml.StartElement{Name: xml.Name{Local: "value"}}),
			xml.StartElement{Name: xml.Name{Local: "field"}, Attr: []xml.Attr{{Name: xml.Name{Local: "var"}, Value: name}}})
	}
	form := xmlstream.Wrap(xmlstream.MultiReader(field("FORM_TYPE", formPublishOpts), field("secret", st.Secret)),
		xml.StartElement{Name: xml.Name{Space: nsDataForm, Local: "x"}, Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "submit"}}})
	return pushIQ(ctx, sess, "enable", st, form)
}

// disablePush sends XEP-0357 <disable/> for the registration's node.
func disablePush(ctx context.Context, sess *xmpp.Session, st pushState) error {
	return pushIQ(ctx, sess, "disable", st, nil)
}

func pushIQ(ctx context.Context, sess *xmpp.Session, name string, st pushState, inner xml.TokenReader) error {
	if _, err := jid.Parse(st.Service); err != nil {
		return protocol.Errorf(protocol.CodeInternal, "push service JID %q: %v", st.Service, err)
	}
	start := xml.StartElement{Name: xml.Name{Space: nsPush, Local: name},
		Attr: []xml.Attr{{Name: xml.Name{Local: "jid"}, Value: st.Service}, {Name: xml.Name{Local: "node"}, Value: st.Node}}}
	err := sess.UnmarshalIQElement(ctx, xmlstream.Wrap(inner, start),
		stanza.IQ{XMLName: xml.Name{Space: stanza.NSClient, Local: "iq"}, ID: randomID(), Type: stanza.SetIQ}, nil)
	var se stanza.Error
	switch {
	case errors.As(err, &se):
		return stanzaError(&se, "push "+name)
	case err != nil:
		return protocol.Errorf(protocol.CodeNotConnected, "push %s: %v", name, err)
	}
	return nil
}

// relayPush calls the relay's /api/push/subscriptions with the account's relay token and
// decodes a want-status answer into out.
func (e *Engine) relayPush(ctx context.Context, method string, body []byte, want int, out any) error {
	token, err := e.currentToken(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(e.cfg.RelayURL, "/")+"/api/push/subscriptions", bytes.NewReader(body))
	if err != nil {
		return protocol.Errorf(protocol.CodeInternal, "push request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.cfg.HTTPClient.Do(req)
	if err != nil {
		return protocol.Errorf(protocol.CodeServerUnreachable, "relay unreachable: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == want {
		if err := json.Unmarshal(raw, out); err != nil {
			return protocol.Errorf(protocol.CodeInternal, "relay push answer: %v", err)
		}
		return nil
	}
	var rerr struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(raw, &rerr)
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return protocol.Errorf(protocol.CodeBadRequest, "relay refused the subscription: %s", rerr.Description)
	case http.StatusUnauthorized:
		return protocol.Errorf(protocol.CodeNotAuthorized, "relay refused the token: %s", rerr.Description)
	case http.StatusNotFound:
		if rerr.Error == "not_found" {
			return protocol.Errorf(codeItemNotFound, "no such subscription")
		}
		return protocol.Errorf(protocol.CodeNotImplemented, "the relay does not offer Web Push")
	default:
		return protocol.Errorf(protocol.CodeServerUnreachable, "relay push API: HTTP %d %s", resp.StatusCode, rerr.Description)
	}
}

// currentToken returns a relay JWT for the signed-in account, renewing it (refresh cookie) when
// it is about to expire.
func (e *Engine) currentToken(ctx context.Context) (string, error) {
	e.mu.Lock()
	if e.acct == nil {
		e.mu.Unlock()
		return "", protocol.Errorf(protocol.CodeNotConnected, "not signed in")
	}
	acct := *e.acct
	e.mu.Unlock()
	j, err := jid.Parse(acct.JID)
	if err != nil {
		return "", protocol.Errorf(protocol.CodeInternal, "account JID: %v", err)
	}
	g, err := e.relayToken(ctx, j, "", acct)
	if err != nil {
		return "", err
	}
	token := g.token
	if token != acct.Token {
		e.mu.Lock()
		if e.acct != nil && e.acct.JID == acct.JID {
			e.acct.Token, e.acct.TokenExp = token, g.exp
			e.persistLocked(keyAccount, *e.acct)
		}
		e.mu.Unlock()
	}
	return token, nil
}
