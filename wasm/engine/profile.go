package engine

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/pep"
	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/storage"
	"github.com/sparkweb/sparkweb/wasm/vcard"
)

// Profiles (vCard): XEP-0292 vCard4 in PEP where the account advertises it, XEP-0054
// vcard-temp otherwise. Avatars are in avatar.go, blocking in blocking.go; their state that is
// not client state (caches, the account's features) lives in profileState.

// nsPEPVCardConversion is advertised by servers that keep vcard-temp PHOTO and XEP-0084 avatars
// in step themselves (XEP-0398): a client then must not update the vCard's photo.
const nsPEPVCardConversion = "urn:xmpp:pep-vcard-conversion:0"

// maxProfileField bounds each profile field, from tabs and from the network.
const maxProfileField = 4096

// profileState is the engine's profile, avatar and blocking bookkeeping outside client state.
type profileState struct {
	mu sync.Mutex
	// features are the account's disco#info features, for the session featSess.
	features map[string]bool
	featSess *xmpp.Session
	// checks are the bare JIDs whose avatar metadata is to be fetched, in order; checked says
	// per bare JID what it was queued for, so the same hint does not queue it again.
	checks      []string
	checked     map[string]string
	checkedSess *xmpp.Session
	checking    bool
	// saving is set while a save of the avatars map is scheduled.
	saving bool

	// ownHash is our avatar's hash once known, for the XEP-0153 element of our presence; read
	// without e.mu because presence is sent from many places.
	ownHash atomic.Pointer[ownAvatar]
	// cardMu serialises edits of our own vCard and avatar: each reads, changes and stores.
	cardMu sync.Mutex
	cache  avatarCache
}

type ownAvatar struct{ jid, hash string }

// accountFeatures returns the features our account (bare JID) advertises, asked once per session.
func (e *Engine) accountFeatures(ctx context.Context) (map[string]bool, error) {
	sess, err := e.online()
	if err != nil {
		return nil, err
	}
	e.prof.mu.Lock()
	if e.prof.featSess == sess {
		f := e.prof.features
		e.prof.mu.Unlock()
		return f, nil
	}
	e.prof.mu.Unlock()
	var info struct {
		Features []struct {
			Var string `xml:"var,attr"`
		} `xml:"feature"`
	}
	query := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "http://jabber.org/protocol/disco#info", Local: "query"}})
	if err := e.sendIQ(ctx, "discover account features", stanza.GetIQ, sess.LocalAddr().Bare(), query, &info); err != nil {
		return nil, err
	}
	f := map[string]bool{}
	for _, v := range info.Features {
		f[v.Var] = true
	}
	e.prof.mu.Lock()
	e.prof.features, e.prof.featSess = f, sess
	e.prof.mu.Unlock()
	return f, nil
}

// useVCard4 reports whether profiles are vCard4 in PEP (XEP-0292) on this server. A server
// that cannot say is asked for vcard-temp, which every server with vCards has.
func (e *Engine) useVCard4(ctx context.Context) bool {
	f, err := e.accountFeatures(ctx)
	if err != nil {
		e.log.Info("account features unknown: using vcard-temp", "err", err)
		return false
	}
	return f[vcard.NS4]
}

// ownBare returns the bare JID of the signed-in account, or the zero JID when offline.
func (e *Engine) ownBare() jid.JID {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sess == nil {
		return jid.JID{}
	}
	return e.sess.LocalAddr().Bare()
}

// fetchCard reads the vCard of bare, in vCard4 or vcard-temp; a user without one has an empty
// card.
func (e *Engine) fetchCard(ctx context.Context, bare jid.JID, v4 bool) (*vcard.Card, error) {
	if v4 {
		var res struct {
			Items []struct {
				Card *vcard.Card `xml:"urn:ietf:params:xml:ns:vcard-4.0 vcard"`
			} `xml:"items>item"`
		}
		err := e.sendIQ(ctx, "fetch vCard", stanza.GetIQ, bare, pep.Items(vcard.Node4, 1), &res)
		switch {
		case isCode(err, "item-not-found"):
		case err != nil:
			return nil, err
		case len(res.Items) > 0 && res.Items[len(res.Items)-1].Card != nil:
			return res.Items[len(res.Items)-1].Card, nil
		}
		return vcard.New4(), nil
	}
	var c vcard.Card
	err := e.sendIQ(ctx, "fetch vCard", stanza.GetIQ, bare, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: vcard.NSTemp, Local: "vCard"}}), &c)
	switch {
	case isCode(err, "item-not-found"):
	case err != nil:
		return nil, err
	case c.XMLName.Local != "":
		return &c, nil
	}
	return vcard.NewTemp(), nil
}

// storeCard replaces our own vCard. vCard4 goes to PEP readable by anyone, as vcard-temp is;
// a node created otherwise earlier keeps its access model.
func (e *Engine) storeCard(ctx context.Context, c *vcard.Card) error {
	if !c.Is4() {
		return e.sendIQ(ctx, "store vCard", stanza.SetIQ, jid.JID{}, c.TokenReader(), nil)
	}
	return e.publish(ctx, "store vCard", vcard.Node4, "current", c.TokenReader)
}

// publish stores an item in one of our PEP nodes, open to anyone; a node that exists with
// another access model refuses that precondition, and the item is then published under the
// node's own configuration.
func (e *Engine) publish(ctx context.Context, what, node, id string, payload func() xml.TokenReader) error {
	err := e.sendIQ(ctx, what, stanza.SetIQ, jid.JID{}, pep.Publish(node, id, payload(), map[string]string{"pubsub#access_model": "open"}), nil)
	if isCode(err, "conflict") || isCode(err, "not-acceptable") {
		err = e.sendIQ(ctx, what, stanza.SetIQ, jid.JID{}, pep.Publish(node, id, payload(), nil), nil)
	}
	return err
}

// isCode reports whether err is a protocol error with that code.
func isCode(err error, code string) bool {
	return err != nil && protocol.AsError(err).Code == code
}

func profileOf(bare string, f vcard.Fields) protocol.Profile {
	c := func(s string) string { return clip(s, maxProfileField) }
	return protocol.Profile{
		JID: bare, FN: c(f.FN), Nickname: c(f.Nickname), Email: c(f.Email), Tel: c(f.Tel), URL: c(f.URL),
		Note: c(f.Note), Org: c(f.Org), Title: c(f.Title), Birthday: c(f.Birthday),
	}
}

func (e *Engine) opProfileGet(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		JID string `json:"jid"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	target := e.ownBare()
	if args.JID != "" {
		j, err := jidArg(args.JID)
		if err != nil {
			return nil, err
		}
		target = j.Bare()
	}
	if target.Equal(jid.JID{}) {
		return nil, protocol.Errorf(protocol.CodeNotConnected, "not connected")
	}
	c, err := e.fetchCard(ctx, target, e.useVCard4(ctx))
	if err != nil {
		return nil, err
	}
	return profileOf(target.String(), c.Fields()), nil
}

// profileArgs are the fields of profile.set; a field left out keeps its value.
type profileArgs struct {
	FN       *string `json:"fn"`
	Nickname *string `json:"nickname"`
	Email    *string `json:"email"`
	Tel      *string `json:"tel"`
	URL      *string `json:"url"`
	Note     *string `json:"note"`
	Org      *string `json:"org"`
	Title    *string `json:"title"`
	Birthday *string `json:"birthday"`
	JID      string  `json:"jid"`
}

func (e *Engine) opProfileSet(ctx context.Context, raw json.RawMessage) (any, error) {
	var args profileArgs
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	set := []struct {
		name string
		v    *string
		f    func(*vcard.Fields) *string
	}{
		{"fn", args.FN, func(f *vcard.Fields) *string { return &f.FN }},
		{"nickname", args.Nickname, func(f *vcard.Fields) *string { return &f.Nickname }},
		{"email", args.Email, func(f *vcard.Fields) *string { return &f.Email }},
		{"tel", args.Tel, func(f *vcard.Fields) *string { return &f.Tel }},
		{"url", args.URL, func(f *vcard.Fields) *string { return &f.URL }},
		{"note", args.Note, func(f *vcard.Fields) *string { return &f.Note }},
		{"org", args.Org, func(f *vcard.Fields) *string { return &f.Org }},
		{"title", args.Title, func(f *vcard.Fields) *string { return &f.Title }},
		{"birthday", args.Birthday, func(f *vcard.Fields) *string { return &f.Birthday }},
	}
	for _, s := range set {
		if s.v != nil && !validText(*s.v, maxProfileField) {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "%s must be text of at most %d bytes without control characters", s.name, maxProfileField)
		}
	}
	own := e.ownBare()
	if own.Equal(jid.JID{}) {
		return nil, protocol.Errorf(protocol.CodeNotConnected, "not connected")
	}
	if args.JID != "" && args.JID != own.String() {
		return nil, protocol.Errorf("forbidden", "only our own profile can be set, not %q", args.JID)
	}
	e.prof.cardMu.Lock()
	defer e.prof.cardMu.Unlock()
	c, err := e.fetchCard(ctx, own, e.useVCard4(ctx))
	if err != nil {
		return nil, err
	}
	f := c.Fields()
	for _, s := range set {
		if s.v != nil {
			*s.f(&f) = *s.v
		}
	}
	c.SetFields(f)
	if err := e.storeCard(ctx, c); err != nil {
		return nil, err
	}
	p := profileOf(own.String(), f)
	e.mu.Lock()
	e.emitLocked("profile", p)
	e.mu.Unlock()
	return p, nil
}

// validText reports whether s is UTF-8 of at most n bytes that XML can carry: no control
// characters other than tab and newlines.
func validText(s string, n int) bool {
	if len(s) > n || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0xFFFE || r == 0xFFFF {
			return false
		}
	}
	return true
}

// profileFreshLogin refreshes what the server may have changed while we were away, after each
// fresh login: the blocklist and our own avatar.
func (e *Engine) profileFreshLogin(sess *xmpp.Session) {
	ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
	defer cancel()
	if err := e.fetchBlocklist(ctx); err != nil {
		e.log.Warn("blocklist unavailable", "err", err)
	}
	if err := e.refreshOwnAvatar(ctx, sess); err != nil {
		e.log.Warn("own avatar unknown", "err", err)
	}
}

// Storage keys of the profile state.
const (
	keyAvatars = "avatars"
	keyBlocked = "blocked"
)

// loadProfile reads the stored avatar hashes and blocklist; the returned function puts them in
// the state and must run with e.mu held.
func (e *Engine) loadProfile(ctx context.Context) (func(), error) {
	avatars := map[string]string{}
	if _, err := storage.GetJSON(ctx, e.store, keyAvatars, &avatars); err != nil {
		return nil, err
	}
	var blocked []string
	if _, err := storage.GetJSON(ctx, e.store, keyBlocked, &blocked); err != nil {
		return nil, err
	}
	return func() {
		for k, v := range avatars {
			e.st.avatars[k] = v
		}
		e.st.blocked = blocked
	}, nil
}
