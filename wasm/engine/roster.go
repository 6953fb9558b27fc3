package engine

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

const nsRoster = "jabber:iq:roster"

// rosterQuery is jabber:iq:roster's <query/>, in a fetch result and in a push. mellium's roster
// package drops the ask attribute, which the UI needs to show pending requests.
type rosterQuery struct {
	XMLName xml.Name // empty when a versioned fetch was answered without a roster
	Ver     string   `xml:"ver,attr"`
	Items   []struct {
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

// fetchRoster loads the roster. With a stored roster it asks for changes only (RFC 6121 roster
// versioning): the server answers with nothing when the stored roster is current, and the stored
// one stands; servers without versioning ignore the attribute and send it all.
func (e *Engine) fetchRoster(ctx context.Context, sess *xmpp.Session) error {
	e.mu.Lock()
	ver := e.st.rosterVer
	e.mu.Unlock()
	start := xml.StartElement{Name: xml.Name{Space: nsRoster, Local: "query"}}
	if ver != "" {
		start.Attr = []xml.Attr{{Name: xml.Name{Local: "ver"}, Value: ver}}
	}
	var q rosterQuery
	err := sess.UnmarshalIQElement(ctx, xmlstream.Wrap(nil, start),
		stanza.IQ{XMLName: xml.Name{Space: stanza.NSClient, Local: "iq"}, ID: randomID(), Type: stanza.GetIQ}, &q)
	var se stanza.Error
	switch {
	case errors.As(err, &se):
		return stanzaError(&se, "fetch roster")
	case err != nil:
		return protocol.Errorf(protocol.CodeInternal, "fetch roster: %v", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if q.XMLName.Local == "" && ver != "" {
		e.log.Info("stored roster is current", "ver", ver)
		return nil
	}
	e.setRosterLocked(q)
	return nil
}

// setRosterLocked replaces the roster with a fetched one and tells the tabs; e.mu must be held.
func (e *Engine) setRosterLocked(q rosterQuery) {
	items := q.items()
	e.st.roster = make(map[string]protocol.RosterItem, len(items))
	for _, it := range items {
		e.st.roster[it.JID] = it
	}
	e.st.rosterVer = q.Ver
	e.resolveApprovedLocked(items)
	e.emitRosterLocked(e.st.rosterList())
	e.persistRosterLocked()
}

// rosterChunk is the most items one roster event carries: a large roster goes out as several
// events, so a tab can render the first contacts while it still parses the rest, and no single
// message between worker and tab grows with the roster.
const rosterChunk = 500

// emitRosterLocked sends the whole roster: the first event has full (replace the list), the
// others add to it, and every one but the last has more.
func (e *Engine) emitRosterLocked(items []protocol.RosterItem) {
	for start := 0; ; start += rosterChunk {
		end := min(start+rosterChunk, len(items))
		e.emitLocked("roster", protocol.Roster{Items: items[start:end], Full: start == 0, More: end < len(items)})
		if end == len(items) {
			return
		}
	}
}

func (e *Engine) opRosterList(context.Context, json.RawMessage) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return protocol.Roster{Items: e.st.rosterList(), Full: true}, nil
}

// onRosterPushIQ takes a roster push (RFC 6121 §2.1.6). It is only genuine from our own account.
func (e *Engine) onRosterPushIQ(_ context.Context, r iqRequest) (xml.TokenReader, error) {
	if r.Type != stanza.SetIQ || !r.fromSelf(e) {
		return nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}
	}
	var q rosterQuery
	if err := r.Decode(&q); err != nil {
		return nil, stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest}
	}
	e.onRosterPush(q)
	return nil, nil
}

func (e *Engine) onRosterPush(q rosterQuery) {
	e.mu.Lock()
	defer e.mu.Unlock()
	items := q.items()
	for _, it := range items {
		if it.Subscription == "remove" {
			delete(e.st.roster, it.JID)
		} else {
			e.st.roster[it.JID] = it
		}
	}
	if q.Ver != "" {
		e.st.rosterVer = q.Ver
	}
	e.resolveApprovedLocked(items)
	e.emitLocked("roster", protocol.Roster{Items: items, Full: false})
	e.persistRosterLocked()
}
