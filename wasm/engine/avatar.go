package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/avatar"
	"github.com/sparkweb/sparkweb/wasm/pep"
	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/storage"
)

// Avatars: XEP-0084 (data and metadata in PEP) with the XEP-0153 fallback (a hash in presence,
// the picture in the vCard). Tabs learn hashes from the "avatar" event and the snapshot, and ask
// for the bytes with avatar.get, which are fetched once per hash and kept in the store.

const (
	// avatarSaveDelay gathers the hash changes of a login's presence flood into one write.
	avatarSaveDelay = 500 * time.Millisecond
	// maxAvatarCache bounds the bytes (base64) of stored avatars; the oldest go first.
	maxAvatarCache = 8 << 20
	avatarPrefix   = "avatar/"
	keyAvatarIndex = "avatar-index"
)

// setAvatarLocked records the avatar hash of bare ("" for none) and tells the tabs if it changed.
func (e *Engine) setAvatarLocked(bare, hash string) {
	old, had := e.st.avatars[bare]
	if old == hash && (had || hash == "") {
		return
	}
	if hash == "" {
		delete(e.st.avatars, bare)
	} else {
		e.st.avatars[bare] = hash
	}
	if e.sess != nil && e.sess.LocalAddr().Bare().String() == bare {
		e.prof.ownHash.Store(&ownAvatar{jid: bare, hash: hash})
	}
	e.emitLocked("avatar", protocol.Avatar{JID: bare, Hash: hash})
	e.prof.mu.Lock()
	defer e.prof.mu.Unlock()
	if e.prof.saving {
		return
	}
	e.prof.saving = true
	time.AfterFunc(avatarSaveDelay, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.prof.mu.Lock()
		e.prof.saving = false
		e.prof.mu.Unlock()
		if e.acct != nil {
			e.persistLocked(keyAvatars, e.st.avatars)
		}
	})
}

func (e *Engine) setAvatar(bare, hash string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setAvatarLocked(bare, hash)
}

// avatarUpdate returns the XEP-0153 element for our presence once our avatar is known.
func (e *Engine) avatarUpdate(sess *xmpp.Session) []xml.TokenReader {
	own := e.prof.ownHash.Load()
	if own == nil || own.jid != sess.LocalAddr().Bare().String() {
		return nil
	}
	return []xml.TokenReader{avatar.Update(own.hash)}
}

// onAvatarHintLocked reads the XEP-0153 element of a contact's presence. A hash for a contact
// whose avatar we do not know yet, is taken as it is: the common case at login, for free. A hint
// that contradicts what we know is checked against the contact's XEP-0084 metadata (or vCard)
// instead of believed, because a server may stamp presence from a stale vCard (ejabberd does
// right after a PEP publish); so is a presence without a hint, or with something that is no
// hash. Each distinct hint is checked once per session.
func (e *Engine) onAvatarHintLocked(bare string, u *avatar.UpdateElement) {
	hint := "\x00none"
	if u != nil && u.Photo != nil {
		h := strings.ToLower(strings.TrimSpace(*u.Photo))
		if h == "" || avatar.ValidHash(h) {
			old, known := e.st.avatars[bare]
			switch {
			case old == h:
				return
			case !known && h != "":
				e.setAvatarLocked(bare, h)
				return
			}
		}
		hint = h
	}
	e.queueAvatarCheckLocked(bare, hint)
}

// onAvatarEventLocked handles a PEP notification of a contact's (or our) avatar metadata. An
// item's id is the avatar's hash (XEP-0084); anything else (an empty <metadata/> announcing
// no avatar under another id, a retraction, a purge) makes us fetch the metadata to know.
func (e *Engine) onAvatarEventLocked(from jid.JID, ev *pepEvent) {
	if from.Equal(jid.JID{}) && e.sess != nil {
		from = e.sess.LocalAddr() // mellium blanks our own bare JID
	}
	bare := from.Bare().String()
	if ev.Purge != nil {
		e.setAvatarLocked(bare, "")
		return
	}
	if ev.Items != nil {
		if n := len(ev.Items.Items); n > 0 && avatar.ValidHash(ev.Items.Items[n-1].ID) {
			e.setAvatarLocked(bare, ev.Items.Items[n-1].ID)
			return
		}
	}
	e.queueAvatarCheckLocked(bare, "\x00event")
}

// queueAvatarCheckLocked has the avatar metadata of bare fetched in the background, one contact
// at a time, unless the same hint already queued it this session.
func (e *Engine) queueAvatarCheckLocked(bare, hint string) {
	if e.sess == nil {
		return
	}
	sess := e.sess
	e.prof.mu.Lock()
	defer e.prof.mu.Unlock()
	if e.prof.checkedSess != sess { // a new session hears every contact's presence again
		e.prof.checked, e.prof.checkedSess = map[string]string{}, sess
	}
	if e.prof.checked[bare] == hint && hint != "\x00event" {
		return
	}
	e.prof.checked[bare] = hint
	e.prof.checks = append(e.prof.checks, bare)
	if e.prof.checking {
		return
	}
	e.prof.checking = true
	go e.runAvatarChecks()
}

func (e *Engine) runAvatarChecks() {
	for {
		e.prof.mu.Lock()
		if len(e.prof.checks) == 0 {
			e.prof.checking = false
			e.prof.mu.Unlock()
			return
		}
		bare := e.prof.checks[0]
		e.prof.checks = e.prof.checks[1:]
		e.prof.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		h, err := e.fetchAvatarHash(ctx, bare)
		cancel()
		switch {
		case isCode(err, protocol.CodeNotConnected):
			e.prof.mu.Lock()
			e.prof.checks = nil // the next session hears every contact again
			e.prof.mu.Unlock()
		case err != nil:
			e.log.Info("avatar metadata unavailable", "jid", bare, "err", err)
		default:
			e.setAvatar(bare, h)
		}
	}
}

// fetchAvatarHash asks for the hash of the current avatar of bare: from its XEP-0084 metadata
// where it has published some (none listed means no avatar), else from its vCard's photo
// (XEP-0153). "" means none.
func (e *Engine) fetchAvatarHash(ctx context.Context, bare string) (string, error) {
	j, err := jidArg(bare)
	if err != nil {
		return "", err
	}
	meta, err := e.fetchAvatarMetadata(ctx, j)
	switch {
	case err == nil && meta != nil:
		in, _ := meta.Find("")
		return strings.ToLower(in.ID), nil
	case isCode(err, protocol.CodeNotConnected):
		return "", err
	}
	c, verr := e.fetchCard(ctx, j, false)
	if verr != nil {
		if err == nil {
			err = verr
		}
		return "", err
	}
	_, b64 := c.Photo()
	if b64 == "" {
		return "", nil
	}
	data, derr := base64.StdEncoding.DecodeString(b64)
	if derr != nil {
		return "", e.badAvatar(bare, "its vCard photo is not base64")
	}
	return avatar.Hash(data), nil
}

// fetchAvatarMetadata returns the current avatar metadata of j; nil when it never published any.
func (e *Engine) fetchAvatarMetadata(ctx context.Context, j jid.JID) (*avatar.Metadata, error) {
	var res struct {
		Items []avatar.MetadataItem `xml:"items>item"`
	}
	err := e.sendIQ(ctx, "fetch avatar metadata", stanza.GetIQ, j, pep.Items(avatar.NSMetadata, 1), &res)
	if err != nil {
		if isCode(err, "item-not-found") {
			return nil, nil
		}
		return nil, err
	}
	if len(res.Items) == 0 {
		return nil, nil
	}
	return res.Items[len(res.Items)-1].Metadata, nil
}

// badAvatar reports an avatar from the network that is refused, to the tabs as an "error"
// event, and returns the error for the op that fetched it.
func (e *Engine) badAvatar(bare, format string, args ...any) error {
	err := protocol.Errorf("not-acceptable", "avatar of %s refused: %s", bare, fmt.Sprintf(format, args...))
	e.mu.Lock()
	e.emitLocked("error", err)
	e.mu.Unlock()
	return err
}

// fetchAvatar fetches the avatar hash of bare: from PEP, else from its vCard. The bytes must
// hash to hash and be an accepted image of at most avatar.MaxBytes.
func (e *Engine) fetchAvatar(ctx context.Context, bare, hash string) ([]byte, string, error) {
	j, err := jidArg(bare)
	if err != nil {
		return nil, "", err
	}
	var b64 string
	meta, err := e.fetchAvatarMetadata(ctx, j)
	if isCode(err, protocol.CodeNotConnected) {
		return nil, "", err
	}
	if in, ok := meta.Find(hash); ok {
		if in.Bytes > avatar.MaxBytes {
			return nil, "", e.badAvatar(bare, "%d bytes, over the limit of %d", in.Bytes, avatar.MaxBytes)
		}
		if in.Type != "" && !avatar.Allowed(in.Type) {
			return nil, "", e.badAvatar(bare, "type %q is not one of %s", clip(in.Type, 64), strings.Join(avatar.Types, ", "))
		}
		var res struct {
			Items []avatar.DataItem `xml:"items>item"`
		}
		err := e.sendIQ(ctx, "fetch avatar", stanza.GetIQ, j, pep.Items(avatar.NSData, 0, hash), &res)
		if isCode(err, protocol.CodeNotConnected) {
			return nil, "", err
		}
		for _, it := range res.Items {
			if it.ID == hash {
				b64 = it.Data
			}
		}
	}
	if b64 == "" { // no XEP-0084 avatar with that hash: try the vCard (XEP-0153)
		c, err := e.fetchCard(ctx, j, false)
		if err != nil {
			return nil, "", err
		}
		_, b64 = c.Photo()
		if b64 == "" {
			return nil, "", protocol.Errorf("item-not-found", "%s has no avatar %s", bare, hash)
		}
	}
	b64 = strings.Join(strings.Fields(b64), "")
	if base64.StdEncoding.DecodedLen(len(b64)) > avatar.MaxBytes+3 {
		return nil, "", e.badAvatar(bare, "over the limit of %d bytes", avatar.MaxBytes)
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, "", e.badAvatar(bare, "the data is not base64")
	}
	typ, err := avatar.Check(data, hash)
	if err != nil {
		return nil, "", e.badAvatar(bare, "%v", err)
	}
	return data, typ, nil
}

func (e *Engine) opAvatarGet(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		JID  string `json:"jid"`
		Hash string `json:"hash"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	hash := strings.ToLower(args.Hash)
	if hash != "" && !avatar.ValidHash(hash) {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "hash must be a SHA-1 in hex, not %q", args.Hash)
	}
	var bare string
	if args.JID != "" {
		j, err := jidArg(args.JID)
		if err != nil {
			return nil, err
		}
		bare = j.Bare().String()
	} else if hash == "" {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "jid or hash required")
	}
	e.mu.Lock()
	if hash == "" {
		hash = e.st.avatars[bare]
	}
	if bare == "" {
		var owners []string
		for k, h := range e.st.avatars {
			if h == hash {
				owners = append(owners, k)
			}
		}
		slices.Sort(owners)
		if len(owners) > 0 {
			bare = owners[0]
		}
	}
	e.mu.Unlock()
	if hash != "" {
		if c, ok := e.cacheGet(ctx, hash); ok {
			return protocol.AvatarData{JID: bare, Hash: hash, Type: c.Type, Data: c.Data}, nil
		}
	}
	if bare == "" {
		return nil, protocol.Errorf("item-not-found", "avatar %s is not stored and nobody known has it", hash)
	}
	if hash == "" { // not heard of yet: ask
		h, err := e.fetchAvatarHash(ctx, bare)
		if err != nil {
			return nil, err
		}
		e.setAvatar(bare, h)
		if h == "" {
			return nil, protocol.Errorf("item-not-found", "%s has no avatar", bare)
		}
		hash = h
		if c, ok := e.cacheGet(ctx, hash); ok {
			return protocol.AvatarData{JID: bare, Hash: hash, Type: c.Type, Data: c.Data}, nil
		}
	}
	data, typ, err := e.fetchAvatar(ctx, bare, hash)
	if err != nil {
		return nil, err
	}
	c := cachedAvatar{Type: typ, Data: base64.StdEncoding.EncodeToString(data)}
	e.cachePut(ctx, hash, c)
	return protocol.AvatarData{JID: bare, Hash: hash, Type: c.Type, Data: c.Data}, nil
}

func (e *Engine) opAvatarSet(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Type string `json:"type"`
		Data string `json:"data"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	var data []byte
	var typ, hash string
	if args.Data != "" {
		if base64.StdEncoding.DecodedLen(len(args.Data)) > avatar.MaxBytes+3 {
			return nil, protocol.Errorf("not-acceptable", "the avatar is over the limit of %d bytes (256 KiB)", avatar.MaxBytes)
		}
		var err error
		if data, err = base64.StdEncoding.DecodeString(args.Data); err != nil {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "data must be base64: %v", err)
		}
		if typ, err = avatar.Check(data, ""); errors.Is(err, avatar.ErrTooLarge) {
			return nil, protocol.Errorf("not-acceptable", "the avatar is %d bytes: over the limit of %d bytes (256 KiB)", len(data), avatar.MaxBytes)
		} else if err != nil {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "%v", err)
		}
		if args.Type != "" && args.Type != typ {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "the data is %s, not %s", typ, args.Type)
		}
		hash = avatar.Hash(data)
	} else if args.Type != "" {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "type without data: leave both out to remove the avatar")
	}
	sess, err := e.online()
	if err != nil {
		return nil, err
	}
	own := sess.LocalAddr().Bare()

	e.prof.cardMu.Lock()
	defer e.prof.cardMu.Unlock()
	// XEP-0084: the data first, so that whoever hears of the metadata can fetch it.
	var pepErr error
	if data != nil {
		pepErr = e.publish(ctx, "publish avatar", avatar.NSData, hash, func() xml.TokenReader { return avatar.DataPayload(args.Data) })
		if pepErr == nil {
			in := &avatar.Info{ID: hash, Bytes: len(data), Type: typ}
			pepErr = e.publish(ctx, "publish avatar", avatar.NSMetadata, hash, func() xml.TokenReader { return avatar.MetadataPayload(in) })
		}
	} else {
		pepErr = e.publish(ctx, "remove avatar", avatar.NSMetadata, "", func() xml.TokenReader { return avatar.MetadataPayload(nil) })
	}
	noPEP := isCode(pepErr, "feature-not-implemented") || isCode(pepErr, "service-unavailable")
	if pepErr != nil && !noPEP {
		return nil, pepErr
	}
	// The vCard's photo, for XEP-0153 clients, unless the server converts (XEP-0398).
	if f, err := e.accountFeatures(ctx); noPEP || err != nil || !f[nsPEPVCardConversion] {
		c, err := e.fetchCard(ctx, own, false)
		if err == nil {
			c.SetPhoto(typ, args.Data)
			err = e.storeCard(ctx, c)
		}
		if err != nil {
			if noPEP {
				return nil, err
			}
			e.log.Warn("avatar not stored in the vCard", "err", err)
		}
	}
	if data != nil {
		e.cachePut(ctx, hash, cachedAvatar{Type: typ, Data: args.Data})
	}
	e.setAvatar(own.String(), hash)
	e.prof.ownHash.Store(&ownAvatar{jid: own.String(), hash: hash})
	// Presence carries the new hash to XEP-0153 contacts.
	if err := e.sendPresence(ctx, sess, e.ownPresence()); err != nil {
		e.log.Warn("presence with the new avatar not sent", "err", err)
	}
	return protocol.Avatar{JID: own.String(), Hash: hash}, nil
}

// refreshOwnAvatar learns our avatar's hash after a login and announces it in presence if it
// is not what the initial presence said.
func (e *Engine) refreshOwnAvatar(ctx context.Context, sess *xmpp.Session) error {
	own := sess.LocalAddr().Bare().String()
	h, err := e.fetchAvatarHash(ctx, own)
	if err != nil {
		return err
	}
	before := e.prof.ownHash.Load()
	e.prof.ownHash.Store(&ownAvatar{jid: own, hash: h})
	e.setAvatar(own, h)
	if before != nil && before.jid == own && before.hash == h {
		return nil
	}
	return e.sendPresence(ctx, sess, e.ownPresence())
}

// avatarCache keeps avatars in the store by hash, at most maxAvatarCache bytes: a hash names
// its bytes for ever, so an entry never goes stale, only old.
type avatarCache struct {
	mu     sync.Mutex
	loaded bool
	index  []avatarEntry // oldest first
	size   int
}

type avatarEntry struct {
	Hash string `json:"h"`
	Size int    `json:"n"`
}

type cachedAvatar struct {
	Type string `json:"type"`
	Data string `json:"data"` // base64
}

func (e *Engine) cacheGet(ctx context.Context, hash string) (cachedAvatar, bool) {
	var c cachedAvatar
	ok, err := storage.GetJSON(ctx, e.store, avatarPrefix+hash, &c)
	if err != nil {
		e.log.Warn("avatar cache unreadable", "hash", hash, "err", err)
		return c, false
	}
	return c, ok && c.Data != ""
}

// cachePut stores an avatar and forgets the oldest beyond the cache's bound. It writes the store
// directly, not through the persister: a get right after must find it.
func (e *Engine) cachePut(ctx context.Context, hash string, c cachedAvatar) {
	ca := &e.prof.cache
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if !ca.loaded {
		if _, err := storage.GetJSON(ctx, e.store, keyAvatarIndex, &ca.index); err != nil {
			e.log.Warn("avatar cache index unreadable", "err", err)
		}
		for _, en := range ca.index {
			ca.size += en.Size
		}
		ca.loaded = true
	}
	if err := storage.PutJSON(ctx, e.store, avatarPrefix+hash, c); err != nil {
		e.log.Warn("avatar not cached", "hash", hash, "err", err)
		return
	}
	if i := slices.IndexFunc(ca.index, func(en avatarEntry) bool { return en.Hash == hash }); i >= 0 {
		ca.size -= ca.index[i].Size
		ca.index = slices.Delete(ca.index, i, i+1)
	}
	ca.index = append(ca.index, avatarEntry{Hash: hash, Size: len(c.Data)})
	ca.size += len(c.Data)
	for ca.size > maxAvatarCache && len(ca.index) > 1 {
		old := ca.index[0]
		if err := e.store.Delete(ctx, avatarPrefix+old.Hash); err != nil {
			e.log.Warn("avatar cache eviction", "hash", old.Hash, "err", err)
		}
		ca.size -= old.Size
		ca.index = ca.index[1:]
	}
	if err := storage.PutJSON(ctx, e.store, keyAvatarIndex, ca.index); err != nil {
		e.log.Warn("avatar cache index not stored", "err", err)
	}
}
