package engine

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"sort"
	"strings"
	"unicode/utf8"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// Contacts: roster edits (RFC 6121 §2) and presence subscriptions (RFC 6121 §3). The engine
// only asks the server; the server's roster push (roster.go) is what changes the roster in
// state, so every client of the account, this one included, sees the same change the same way.

const (
	maxRosterName = 1024 // bytes; a name is a label, not a document
	maxGroups     = 64
	maxStatus     = 1024
)

// rosterArgs are the args of roster.add and roster.update. Name and Groups are pointers so that
// an update can leave them as they are.
type rosterArgs struct {
	JID    string    `json:"jid"`
	Name   *string   `json:"name"`
	Groups *[]string `json:"groups"`
}

func (a rosterArgs) validate() (jid.JID, error) {
	j, err := contactJID(a.JID)
	if err != nil {
		return j, err
	}
	if a.Name != nil && (len(*a.Name) > maxRosterName || !utf8.ValidString(*a.Name)) {
		return j, protocol.Errorf(protocol.CodeBadRequest, "name must be valid UTF-8 of at most %d bytes", maxRosterName)
	}
	if a.Groups != nil {
		if len(*a.Groups) > maxGroups {
			return j, protocol.Errorf(protocol.CodeBadRequest, "at most %d groups", maxGroups)
		}
		for _, g := range *a.Groups {
			if g == "" || len(g) > maxRosterName || !utf8.ValidString(g) {
				return j, protocol.Errorf(protocol.CodeBadRequest, "group names must be non-empty valid UTF-8 of at most %d bytes", maxRosterName)
			}
		}
	}
	return j, nil
}

// apply sets on it what the args give; what they leave out stays as it is.
func (a rosterArgs) apply(it protocol.RosterItem) protocol.RosterItem {
	if a.Name != nil {
		it.Name = *a.Name
	}
	if a.Groups != nil {
		it.Groups = *a.Groups
	}
	return it
}

// contactJID parses a contact's address: a bare JID, never our own server's resources.
// jidArg parses a JID a tab sent; an empty or invalid one is a bad-request error.
func jidArg(s string) (jid.JID, error) {
	j, err := jid.Parse(s)
	if err != nil || s == "" {
		return jid.JID{}, protocol.Errorf(protocol.CodeBadRequest, "invalid JID %q", s)
	}
	return j, nil
}

// contactJID parses a contact's JID a tab sent, as the bare JID.
func contactJID(s string) (jid.JID, error) {
	j, err := jidArg(s)
	return j.Bare(), err
}

func (e *Engine) opRosterAdd(ctx context.Context, raw json.RawMessage) (any, error) {
	var args rosterArgs
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	j, err := args.validate()
	if err != nil {
		return nil, err
	}
	return nil, e.setRosterItem(ctx, args.apply(protocol.RosterItem{JID: j.String(), Groups: []string{}}), "add contact")
}

// opRosterUpdate renames a contact or sets its groups; what args leave out stays as it is.
func (e *Engine) opRosterUpdate(ctx context.Context, raw json.RawMessage) (any, error) {
	var args rosterArgs
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	j, err := args.validate()
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	it, ok := e.st.roster[j.String()]
	e.mu.Unlock()
	if !ok {
		return nil, protocol.Errorf(string(stanza.ItemNotFound), "%s is not in the roster", j)
	}
	return nil, e.setRosterItem(ctx, args.apply(it), "update contact")
}

func (e *Engine) opRosterRemove(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		JID string `json:"jid"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	j, err := contactJID(args.JID)
	if err != nil {
		return nil, err
	}
	// Removing also cancels the subscriptions both ways (RFC 6121 §2.5.2): the server does that.
	return nil, e.setRosterItem(ctx, protocol.RosterItem{JID: j.String(), Subscription: "remove"}, "remove contact")
}

// setRosterItem sends a roster set and waits for the server's answer. Only the name, the groups
// and subscription="remove" are ours to set; the server owns the subscription state.
func (e *Engine) setRosterItem(ctx context.Context, it protocol.RosterItem, what string) error {
	sess, err := e.online()
	if err != nil {
		return err
	}
	attrs := []xml.Attr{{Name: xml.Name{Local: "jid"}, Value: it.JID}}
	if it.Name != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "name"}, Value: it.Name})
	}
	if it.Subscription == "remove" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "subscription"}, Value: "remove"})
	}
	groups := make([]xml.TokenReader, 0, len(it.Groups))
	for _, g := range it.Groups {
		groups = append(groups, textElement("group", g))
	}
	item := xmlstream.Wrap(xmlstream.MultiReader(groups...), xml.StartElement{Name: xml.Name{Local: "item"}, Attr: attrs})
	query := xmlstream.Wrap(item, xml.StartElement{Name: xml.Name{Space: nsRoster, Local: "query"}})
	resp, err := sess.SendIQElement(ctx, query, stanza.IQ{XMLName: xml.Name{Space: stanza.NSClient, Local: "iq"}, ID: randomID(), Type: stanza.SetIQ})
	if err != nil {
		return protocol.Errorf(protocol.CodeNotConnected, "%s: %v", what, err)
	}
	defer resp.Close()
	return iqResultError(resp, what)
}

// iqResultError reads an IQ response and returns its stanza error, if it is one.
func iqResultError(r xml.TokenReader, what string) error {
	var iq struct {
		stanza.IQ
		Err *stanza.Error `xml:"jabber:client error"`
	}
	if err := xml.NewTokenDecoder(r).Decode(&iq); err != nil {
		return protocol.Errorf(protocol.CodeInternal, "%s: read answer: %v", what, err)
	}
	if iq.Type == stanza.ErrorIQ {
		return stanzaError(iq.Err, what)
	}
	return nil
}

// subscriptionOps maps each subscription op to the presence type it sends (RFC 6121 §3).
var subscriptionOps = map[string]stanza.PresenceType{
	"presence.subscribe": stanza.SubscribePresence,    // ask to see the contact's presence
	"presence.approve":   stanza.SubscribedPresence,   // answer a request, or pre-approve one (§3.4)
	"presence.deny":      stanza.UnsubscribedPresence, // refuse a request, or revoke an approval
	"presence.cancel":    stanza.UnsubscribePresence,  // stop seeing the contact's presence
}

// opSubscription returns the handler of one of subscriptionOps.
func (e *Engine) opSubscription(op string) opFunc {
	typ := subscriptionOps[op]
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var args struct {
			JID    string `json:"jid"`
			Status string `json:"status"`
		}
		if err := protocol.DecodeArgs(raw, &args); err != nil {
			return nil, err
		}
		j, err := contactJID(args.JID)
		if err != nil {
			return nil, err
		}
		if len(args.Status) > maxStatus || !utf8.ValidString(args.Status) {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "status must be valid UTF-8 of at most %d bytes", maxStatus)
		}
		sess, err := e.online()
		if err != nil {
			return nil, err
		}
		var payload xml.TokenReader
		if args.Status != "" && typ == stanza.SubscribePresence {
			payload = textElement("status", args.Status) // a note with the request, e.g. who is asking
		}
		p := stanza.Presence{XMLName: xml.Name{Space: stanza.NSClient, Local: "presence"}, To: j, Type: typ}
		if err := sess.Send(ctx, p.Wrap(payload)); err != nil {
			return nil, protocol.Errorf(protocol.CodeNotConnected, "%s: %v", op, err)
		}
		if typ == stanza.SubscribedPresence || typ == stanza.UnsubscribedPresence {
			e.mu.Lock()
			e.resolveRequestLocked(j.String())
			e.mu.Unlock()
		}
		return nil, nil
	}
}

// onSubscription handles a subscription presence from a contact: a request is kept until it is
// answered, and every one is told to the tabs.
func (e *Engine) onSubscription(p incomingPresence) {
	from := p.From.Bare()
	if from.Equal(jid.JID{}) {
		return // our own account does not subscribe to itself
	}
	sub := protocol.Subscription{JID: from.String(), Type: string(p.Type), Status: clip(p.Status, maxStatus)}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.emitLocked("subscription", sub)
	switch p.Type {
	case stanza.SubscribePresence:
		if _, ok := e.st.requests[sub.JID]; !ok {
			e.st.requests[sub.JID] = sub
			e.emitRequestsLocked()
		}
	case stanza.UnsubscribePresence:
		e.resolveRequestLocked(sub.JID) // the contact withdrew its request
	}
}

// resolveRequestLocked forgets the request of bare, answered here, elsewhere or withdrawn.
func (e *Engine) resolveRequestLocked(bare string) {
	if _, ok := e.st.requests[bare]; ok {
		delete(e.st.requests, bare)
		e.emitRequestsLocked()
	}
}

// resolveApprovedLocked forgets requests the roster shows answered: a contact with a "from" or
// "both" subscription was approved, by this client or another one.
func (e *Engine) resolveApprovedLocked(items []protocol.RosterItem) {
	for _, it := range items {
		if it.Subscription == "from" || it.Subscription == "both" || it.Subscription == "remove" {
			e.resolveRequestLocked(it.JID)
		}
	}
}

func (e *Engine) emitRequestsLocked() {
	e.emitLocked("requests", protocol.Requests{Items: e.st.requestList()})
}

func (s *state) requestList() []protocol.Subscription {
	list := make([]protocol.Subscription, 0, len(s.requests))
	for _, r := range s.requests {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].JID < list[j].JID })
	return list
}

// clip cuts untrusted text to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") // drops a rune cut in half
}
