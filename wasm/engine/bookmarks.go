package engine

import (
	"context"
	"encoding/json"
	"errors"
	"sort"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/muc"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// Bookmarks (XEP-0402): one item per room in our PEP node urn:xmpp:bookmarks:1. They are
// fetched after each fresh login (autojoin, muc.go), changed with ops that also update the
// state at once, and kept in step with our other clients by PEP notifications ("+notify").

// maxBookmarks bounds what a server's answer can make us hold.
const maxBookmarks = 1000

func (s *state) bookmarkList() []protocol.Bookmark {
	list := make([]protocol.Bookmark, 0, len(s.bookmarks))
	for _, b := range s.bookmarks {
		list = append(list, b)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].JID < list[j].JID })
	return list
}

// bookmarkOf reads one item; ok is false for an item that is not a bookmark.
func bookmarkOf(it muc.BookmarkItem) (protocol.Bookmark, bool) {
	j, err := jid.Parse(it.ID)
	if err != nil || j.Localpart() == "" || it.Conference == nil {
		return protocol.Bookmark{}, false
	}
	c := it.Conference
	return protocol.Bookmark{
		JID: j.Bare().String(), Name: clip(c.Name, muc.MaxName), Nick: clip(c.Nick, muc.MaxNick),
		Autojoin: c.AutojoinSet(), Password: clip(c.Password, muc.MaxReason),
	}, true
}

// fetchBookmarks loads the bookmarks, replaces the state's and tells the tabs.
func (e *Engine) fetchBookmarks(ctx context.Context) ([]protocol.Bookmark, error) {
	var res muc.BookmarkItems
	err := e.sendIQ(ctx, "fetch bookmarks", stanza.GetIQ, jid.JID{}, muc.FetchBookmarks(), &res)
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.Code == string(stanza.ItemNotFound) {
		err = nil // no node yet: no bookmarks
	}
	if err != nil {
		return nil, err
	}
	m := map[string]protocol.Bookmark{}
	for _, it := range res.Items {
		if b, ok := bookmarkOf(it); ok && len(m) < maxBookmarks {
			m[b.JID] = b
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.st.bookmarks = m
	list := e.st.bookmarkList()
	e.emitLocked("bookmarks", protocol.Bookmarks{Items: list})
	return list, nil
}

func (e *Engine) opBookmarksList(ctx context.Context, _ json.RawMessage) (any, error) {
	list, err := e.fetchBookmarks(ctx)
	if err != nil {
		return nil, err
	}
	return protocol.Bookmarks{Items: list}, nil
}

func (e *Engine) opBookmarksSet(ctx context.Context, raw json.RawMessage) (any, error) {
	var args protocol.Bookmark
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	rj, err := roomArg(args.JID)
	if err != nil {
		return nil, err
	}
	if args.Nick != "" {
		if _, err := nickArg(rj, args.Nick); err != nil {
			return nil, err
		}
	}
	if err := textArg("name", args.Name, muc.MaxName); err != nil {
		return nil, err
	}
	if err := textArg("password", args.Password, muc.MaxReason); err != nil {
		return nil, err
	}
	args.JID = rj.String()
	c := muc.Conference{Name: args.Name, Nick: args.Nick, Password: args.Password}
	if args.Autojoin {
		c.Autojoin = "true"
	}
	if err := e.publishBookmark(ctx, args.JID, c); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setBookmarksLocked([]protocol.Bookmark{args}, nil)
	return nil, nil
}

// publishBookmark stores one bookmark. A server that does not know every publish option
// refuses the whole publish (ejabberd 23.01: resource-constraint); it then gets the two
// XEP-0402 cannot do without, and max_items (so that a second bookmark does not replace the
// first) and notify_retract as node configuration.
func (e *Engine) publishBookmark(ctx context.Context, room string, c muc.Conference) error {
	err := e.sendIQ(ctx, "save bookmark", stanza.SetIQ, jid.JID{}, muc.PublishBookmark(room, c, true), nil)
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.Code == protocol.CodeNotConnected {
		return err
	}
	widened := e.widenBookmarks(ctx) // fails while the node does not exist yet
	if err := e.sendIQ(ctx, "save bookmark", stanza.SetIQ, jid.JID{}, muc.PublishBookmark(room, c, false), nil); err != nil {
		return err
	}
	if !widened {
		e.widenBookmarks(ctx)
	}
	return nil
}

// widenBookmarks configures the bookmarks node to keep many items and to notify removals,
// trying what servers may not take last; it reports success.
func (e *Engine) widenBookmarks(ctx context.Context) bool {
	for _, notify := range []bool{true, false} {
		for _, n := range []string{"max", "1000"} {
			if err := e.sendIQ(ctx, "configure bookmarks", stanza.SetIQ, jid.JID{}, muc.WidenBookmarks(n, notify), nil); err == nil {
				return true
			}
		}
	}
	return false
}

func (e *Engine) opBookmarksRemove(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		JID string `json:"jid"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	rj, err := roomArg(args.JID)
	if err != nil {
		return nil, err
	}
	if err := e.sendIQ(ctx, "remove bookmark", stanza.SetIQ, jid.JID{}, muc.RetractBookmark(rj.String()), nil); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setBookmarksLocked(nil, []string{rj.String()})
	return nil, nil
}

// setBookmarksLocked stores and removes bookmarks and tells the tabs if that changed anything.
func (e *Engine) setBookmarksLocked(set []protocol.Bookmark, remove []string) {
	changed := false
	for _, b := range set {
		if old, ok := e.st.bookmarks[b.JID]; (!ok && len(e.st.bookmarks) < maxBookmarks) || (ok && old != b) {
			e.st.bookmarks[b.JID], changed = b, true
		}
	}
	for _, k := range remove {
		if _, ok := e.st.bookmarks[k]; ok {
			delete(e.st.bookmarks, k)
			changed = true
		}
	}
	if changed {
		e.emitLocked("bookmarks", protocol.Bookmarks{Items: e.st.bookmarkList()})
	}
}

// onBookmarksEventLocked applies a PEP notification of the bookmarks node from our own account.
// e.mu must be held.
func (e *Engine) onBookmarksEventLocked(ev *pepEvent) {
	if ev.Purge != nil {
		e.setBookmarksLocked(nil, e.st.bookmarkJIDs())
		return
	}
	if ev.Items == nil {
		return
	}
	var set []protocol.Bookmark
	for _, it := range ev.Items.Items {
		// An item that is not a bookmark is skipped; the others still count.
		if b, ok := bookmarkOf(muc.BookmarkItem{ID: it.ID, Conference: it.Conference}); ok {
			set = append(set, b)
		}
	}
	var remove []string
	for _, r := range ev.Items.Retract {
		remove = append(remove, r.ID)
	}
	e.setBookmarksLocked(set, remove)
}

func (s *state) bookmarkJIDs() []string {
	out := make([]string, 0, len(s.bookmarks))
	for k := range s.bookmarks {
		out = append(out, k)
	}
	return out
}
