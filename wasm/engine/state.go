package engine

import (
	"sort"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// maxConversation caps the messages kept in memory per conversation. Older ones are for history
// (MAM) to page back through, not for every attaching tab to receive.
const maxConversation = 200

// state is everything the engine knows; guarded by Engine.mu.
type state struct {
	session       protocol.Session
	roster        map[string]protocol.RosterItem // by bare JID
	presence      map[string]protocol.Presence   // by full JID
	conversations map[string][]protocol.Message  // by bare JID of the peer
}

func newState() state {
	return state{
		session:       protocol.Session{State: protocol.StateOffline},
		roster:        map[string]protocol.RosterItem{},
		presence:      map[string]protocol.Presence{},
		conversations: map[string][]protocol.Message{},
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

// addMessage appends m to its conversation unless a message with the same id from the same
// sender is already there. It reports whether m was new.
func (s *state) addMessage(m protocol.Message) bool {
	conv := s.conversations[m.With]
	for i := len(conv) - 1; i >= 0; i-- {
		if conv[i].ID == m.ID && conv[i].From == m.From && m.ID != "" {
			return false
		}
	}
	conv = append(conv, m)
	if len(conv) > maxConversation {
		conv = append(conv[:0:0], conv[len(conv)-maxConversation:]...)
	}
	s.conversations[m.With] = conv
	return true
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
	}
}
