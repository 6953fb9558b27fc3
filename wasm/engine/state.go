package engine

import (
	"maps"
	"sort"
	"strings"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// maxConversation caps the messages kept in memory per conversation. Older ones are for history
// (MAM) to page back through, not for every attaching tab to receive.
const maxConversation = 200

// state is everything the engine knows; guarded by Engine.mu.
type state struct {
	session       protocol.Session
	roster        map[string]protocol.RosterItem   // by bare JID
	rosterVer     string                           // version of roster (RFC 6121), "" if unknown
	presence      map[string]protocol.Presence     // by full JID
	conversations map[string][]protocol.Message    // by bare JID of the peer
	lastArchived  string                           // archive id of the newest message seen
	seen          seenSet                          // identities of messages filed, beyond the in-memory cap
	requests      map[string]protocol.Subscription // subscription requests awaiting an answer, by bare JID
	rooms         map[string]*room                 // group chats, by bare JID (muc.go)
	bookmarks     map[string]protocol.Bookmark     // by room JID (bookmarks.go)
	avatars       map[string]string                // avatar hash by bare JID (avatar.go)
	blocked       []string                         // the blocklist, sorted (blocking.go)
}

// maxSeen bounds the identities remembered for deduplication: far more than a conversation keeps
// in memory, so a resend or an archive copy of a message already shown is still recognised.
const maxSeen = 20000

// seenSet remembers message identities, forgetting the oldest beyond maxSeen.
type seenSet struct {
	m     map[string]struct{}
	order []string
}

func (s *seenSet) has(k string) bool { _, ok := s.m[k]; return ok }

func (s *seenSet) add(k string) {
	if s.m == nil {
		s.m = map[string]struct{}{}
	}
	if s.has(k) {
		return
	}
	s.m[k] = struct{}{}
	s.order = append(s.order, k)
	if len(s.order) > maxSeen {
		delete(s.m, s.order[0])
		s.order = s.order[1:]
	}
}

// identities of a message: its id from its sender, and its archive id.
func identities(m protocol.Message) (byID, byArchive string) {
	if m.ID != "" {
		byID = "id\x00" + m.With + "\x00" + bare(m.From) + "\x00" + m.ID
	}
	if m.StanzaID != "" {
		byArchive = "sid\x00" + m.StanzaID
	}
	return byID, byArchive
}

func newState() state {
	return state{
		session:       protocol.Session{State: protocol.StateOffline},
		roster:        map[string]protocol.RosterItem{},
		presence:      map[string]protocol.Presence{},
		conversations: map[string][]protocol.Message{},
		requests:      map[string]protocol.Subscription{},
		rooms:         map[string]*room{},
		bookmarks:     map[string]protocol.Bookmark{},
		avatars:       map[string]string{},
	}
}

func (s *state) rosterList() []protocol.RosterItem {
	items := make([]protocol.RosterItem, 0, len(s.roster))
	for _, it := range s.roster {
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].JID < items[j].JID })
	return items
}

func (s *state) presenceList() []protocol.Presence {
	list := make([]protocol.Presence, 0, len(s.presence))
	for _, p := range s.presence {
		list = append(list, p)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].JID < list[j].JID })
	return list
}

// addMessage files m in its conversation, in time order, unless the conversation already holds
// it: the same id from the same sender (origin-id survives resends and the archive), or the same
// archive id. A duplicate may still teach us the archive id of the copy we have. It reports
// whether m was new.
func (s *state) addMessage(m protocol.Message) bool {
	byID, byArchive := identities(m)
	if (byID != "" && s.seen.has(byID)) || (byArchive != "" && s.seen.has(byArchive)) {
		// Known: at most it teaches us the archive id of the copy we have.
		conv := s.conversations[m.With]
		for i := len(conv) - 1; i >= 0; i-- {
			c := &conv[i]
			if (m.ID != "" && c.ID == m.ID && bare(c.From) == bare(m.From)) || (m.StanzaID != "" && c.StanzaID == m.StanzaID) {
				if c.StanzaID == "" {
					c.StanzaID = m.StanzaID
				}
				break
			}
		}
		if byID != "" {
			s.seen.add(byID)
		}
		if byArchive != "" {
			s.seen.add(byArchive)
		}
		return false
	}
	if byID != "" {
		s.seen.add(byID)
	}
	if byArchive != "" {
		s.seen.add(byArchive)
	}
	conv := s.conversations[m.With]
	i := len(conv)
	for i > 0 && conv[i-1].Timestamp > m.Timestamp {
		i--
	}
	conv = append(conv, protocol.Message{})
	copy(conv[i+1:], conv[i:])
	conv[i] = m
	if len(conv) > maxConversation {
		conv = append(conv[:0:0], conv[len(conv)-maxConversation:]...)
	}
	s.conversations[m.With] = conv
	return true
}

// bare strips the resource from a JID string without parsing it: the engine wrote these strings.
func bare(j string) string {
	if i := strings.IndexByte(j, '/'); i >= 0 {
		return j[:i]
	}
	return j
}

func (s *state) snapshot() protocol.Snapshot {
	convs := make(map[string][]protocol.Message, len(s.conversations))
	for k, v := range s.conversations {
		convs[k] = append([]protocol.Message(nil), v...)
	}
	return protocol.Snapshot{
		Session:       s.session,
		Roster:        s.rosterList(),
		Presence:      s.presenceList(),
		Conversations: convs,
		Requests:      s.requestList(),
		Rooms:         s.roomList(),
		Occupants:     s.occupantMap(),
		Bookmarks:     s.bookmarkList(),
		Avatars:       maps.Clone(s.avatars),
		Blocked:       append([]string{}, s.blocked...),
	}
}
