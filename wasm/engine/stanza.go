package engine

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/avatar"
	"github.com/sparkweb/sparkweb/wasm/disco"
	"github.com/sparkweb/sparkweb/wasm/mam"
	"github.com/sparkweb/sparkweb/wasm/muc"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// maxBody is the largest message body accepted from a tab; servers refuse larger stanzas.
const maxBody = 64 << 10

const nsSID = "urn:xmpp:sid:0"

// handle receives every stanza of the session; IQ gets and sets go to iqHandlers.
func (e *Engine) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	// t holds the stanza without its start element; put it back so the decoder sees a whole element.
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t))
	e.noteReceived() // the link is alive (ping.go)
	switch start.Name.Local {
	case "message":
		var m incomingMessage
		if err := d.Decode(&m); err != nil {
			return e.malformed("message", err)
		}
		for _, r := range e.onMessage(m) {
			if _, err := xmlstream.Copy(t, r); err != nil {
				return fmt.Errorf("answer message: %w", err)
			}
		}
	case "presence":
		var p incomingPresence
		if err := d.Decode(&p); err != nil {
			return e.malformed("presence", err)
		}
		e.onPresence(p)
	case "iq":
		iq, err := stanza.NewIQ(*start)
		if err != nil {
			return e.malformed("iq", err)
		}
		if iq.Type == stanza.GetIQ || iq.Type == stanza.SetIQ {
			return e.handleIQ(t, iq, d)
		}
	}
	return nil
}

// isOwnBare reports whether j is the bare JID of the account signed in.
func (e *Engine) isOwnBare(j jid.JID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sess != nil && j.Equal(e.sess.LocalAddr().Bare())
}

// malformed reports a stanza that could not be decoded without ending the session.
func (e *Engine) malformed(kind string, err error) error {
	e.log.Warn("malformed stanza", "kind", kind, "err", err)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.emitLocked("error", protocol.Errorf(protocol.CodeBadRequest, "malformed %s from the server ignored: %v", kind, err))
	return nil
}

// incomingMessage is any <message/>: a chat message, a carbon copy of one, or an archive result.
type incomingMessage struct {
	ExtMessage
	Received *carbon        `xml:"urn:xmpp:carbons:2 received"`
	Sent     *carbon        `xml:"urn:xmpp:carbons:2 sent"`
	Result   *archiveResult `xml:"urn:xmpp:mam:2 result"`
	// Room invitations (muc.go).
	MUCUser    *muc.UserX        `xml:"http://jabber.org/protocol/muc#user x"`
	Conference *muc.DirectInvite `xml:"jabber:x:conference x"`
	PEP        *pepEvent         `xml:"http://jabber.org/protocol/pubsub#event event"`
}

// pepEvent is a PubSub notification (XEP-0060, PEP XEP-0163): one node's new items,
// retractions or purge. Every node shares this one field (a second field for the same element
// would make every message undecodable): handlers dispatch on Node and decode item payloads.
type pepEvent struct {
	Items *struct {
		Node    string    `xml:"node,attr"`
		Items   []pepItem `xml:"item"`
		Retract []struct {
			ID string `xml:"id,attr"`
		} `xml:"retract"`
	} `xml:"items"`
	Purge *struct {
		Node string `xml:"node,attr"`
	} `xml:"purge"`
}

// pepItem is a published item: its id and, for the nodes we read items of, the payload. (Not
// ",innerxml": stanzas are decoded from tokens, which keep no raw bytes.)
type pepItem struct {
	ID         string          `xml:"id,attr"`
	Conference *muc.Conference `xml:"urn:xmpp:bookmarks:1 conference"` // bookmarks.go
}

// Node is the node the event is about.
func (ev *pepEvent) Node() string {
	switch {
	case ev.Items != nil:
		return ev.Items.Node
	case ev.Purge != nil:
		return ev.Purge.Node
	}
	return ""
}

type carbon struct {
	Forwarded forwarded `xml:"urn:xmpp:forward:0 forwarded"`
}

// archiveResult and forwarded read archive results and carbons with the message's extensions.
type (
	archiveResult = mam.Result[ExtMessage]
	forwarded     = mam.Forwarded[ExtMessage]
)

// onMessage handles a received message and returns the stanzas to send in answer.
func (e *Engine) onMessage(m incomingMessage) []xml.TokenReader {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sess == nil {
		return nil
	}
	me := e.sess.LocalAddr()
	// Carbons and archive results are only genuine from our own account; mellium blanks our bare
	// JID in from, so a forged one from anyone else keeps its from and is dropped here.
	fromSelf := m.From.Equal(jid.JID{}) || m.From.Equal(me.Bare())
	switch {
	case m.Result != nil:
		q := e.queries[m.Result.QueryID]
		// A room's archive answers from the room (muc.go).
		if q == nil || !(fromSelf || (q.from != "" && m.From.Bare().String() == q.from)) || m.Result.Forwarded.Message == nil {
			return nil
		}
		f := m.Result.Forwarded
		return e.onMessageLocked(newInbound(f.Message, me, m.Result.ID, f.Time(), fromArchive), q)
	case m.Received != nil || m.Sent != nil:
		c := m.Received
		if c == nil {
			c = m.Sent
		}
		if !fromSelf || c.Forwarded.Message == nil {
			return nil
		}
		inner := c.Forwarded.Message
		return e.onMessageLocked(newInbound(inner, me, inner.StanzaID(me.Bare().String()), c.Forwarded.Time(), fromCarbon), nil)
	case m.PEP != nil && m.PEP.Node() == avatar.NSMetadata:
		e.onAvatarEventLocked(m.From, m.PEP) // avatar.go
		return nil
	case m.PEP != nil && fromSelf && m.PEP.Node() == muc.NSBookmarks:
		e.onBookmarksEventLocked(m.PEP) // bookmarks.go
		return nil
	case m.Type == stanza.ErrorMessage && e.onRoomMessageErrorLocked(m.From, m.ID, m.Err, "room "+m.From.Bare().String()):
		return nil // answered an op (muc.go)
	case e.onInviteLocked(m): // muc.go
		return nil
	default:
		return e.onMessageLocked(newInbound(&m.ExtMessage, me, m.StanzaID(me.Bare().String()), time.Time{}, fromLive), nil)
	}
}

// timestamp formats t with a fixed width, so that timestamps sort as strings.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// fileLocked adds a message to its conversation and tells the tabs, once. A live message moves
// the archive position, unless a catch-up is pending (that would skip what it has not fetched
// yet); one from a catch-up does not (catchUp moves it page by page).
// e.mu must be held.
func (e *Engine) fileLocked(msg protocol.Message, live bool) {
	if live && !e.catchUpPending && msg.StanzaID != "" && msg.StanzaID != e.st.lastArchived {
		e.st.lastArchived = msg.StanzaID
		e.persistLocked(keyArchived, msg.StanzaID)
	}
	if e.st.addMessage(msg) {
		e.emitLocked("message", msg)
		e.persistConversationLocked(msg.With)
	}
}

type incomingPresence struct {
	stanza.Presence
	Show     string `xml:"show"`
	Status   string `xml:"status"`
	Priority string `xml:"priority"`
	Idle     *struct {
		Since string `xml:"since,attr"`
	} `xml:"urn:xmpp:idle:1 idle"`
	MUC  *muc.UserX    `xml:"http://jabber.org/protocol/muc#user x"` // occupant presence (muc.go)
	Err  *stanza.Error `xml:"jabber:client error"`
	Caps *disco.Caps   `xml:"http://jabber.org/protocol/caps c"` // entity capabilities (caps.go)
	// Avatar is the XEP-0153 avatar hash (avatar.go).
	Avatar *avatar.UpdateElement `xml:"vcard-temp:x:update x"`
	// OccupantID is a room's stable id for the occupant (XEP-0421, mucmsg.go).
	OccupantID *idRef `xml:"urn:xmpp:occupant-id:0 occupant-id"`
}

const nsIdle = "urn:xmpp:idle:1"

func (e *Engine) onPresence(p incomingPresence) {
	if e.onRoomPresence(p) { // muc.go
		return
	}
	switch p.Type {
	case "", stanza.UnavailablePresence:
	case stanza.SubscribePresence, stanza.SubscribedPresence, stanza.UnsubscribePresence, stanza.UnsubscribedPresence:
		e.onSubscription(p)
		return
	default:
		return // probes are the server's business; presence errors have no view yet
	}
	from := p.From
	e.mu.Lock()
	defer e.mu.Unlock()
	if from.Equal(jid.JID{}) && e.sess != nil {
		from = e.sess.LocalAddr().Bare() // mellium blanks our own bare JID
	}
	prio, _ := strconv.Atoi(p.Priority)
	pr := protocol.Presence{JID: from.String(), Bare: from.Bare().String(), Show: showOf(p.Show), Status: clip(p.Status, maxStatus), Priority: prio}
	if p.Type != stanza.UnavailablePresence {
		pr.Caps = e.noteCapsLocked(from, p.Caps) // caps.go
		e.onAvatarHintLocked(pr.Bare, p.Avatar)  // avatar.go
	}
	if p.Idle != nil {
		// A malformed stamp is dropped: the presence itself is still good.
		if t, err := time.Parse(time.RFC3339, p.Idle.Since); err == nil {
			pr.IdleSince = timestamp(t)
		}
	}
	if p.Type == stanza.UnavailablePresence {
		pr.Show = "unavailable"
		delete(e.st.presence, pr.JID)
	} else {
		e.st.presence[pr.JID] = pr
	}
	e.emitLocked("presence", pr)
}

func showOf(s string) string {
	switch s {
	case "away", "chat", "dnd", "xa":
		return s
	}
	return "available"
}

type presenceArgs struct {
	Show     string `json:"show"`
	Status   string `json:"status"`
	Priority *int   `json:"priority"`
	// IdleSince (RFC 3339) says the user has been idle since then (XEP-0319); "" means active.
	IdleSince   string `json:"idleSince"`
	unavailable bool
}

func (e *Engine) opPresenceSet(ctx context.Context, raw json.RawMessage) (any, error) {
	var args presenceArgs
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	switch args.Show {
	case "", "available", "away", "chat", "dnd", "xa":
	default:
		return nil, protocol.Errorf(protocol.CodeBadRequest, "show must be available, away, chat, dnd or xa, not %q", args.Show)
	}
	if args.Priority != nil && (*args.Priority < -128 || *args.Priority > 127) {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "priority must be between -128 and 127")
	}
	if len(args.Status) > maxStatus || !utf8.ValidString(args.Status) {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "status must be valid UTF-8 of at most %d bytes", maxStatus)
	}
	if args.IdleSince != "" {
		t, err := time.Parse(time.RFC3339, args.IdleSince)
		if err != nil {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "idleSince must be an RFC 3339 time, not %q", args.IdleSince)
		}
		args.IdleSince = t.UTC().Format(time.RFC3339)
	}
	sess, err := e.online()
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.presence = args // restored after a reconnect
	e.mu.Unlock()
	if err := e.sendPresence(ctx, sess, args); err != nil {
		return nil, protocol.Errorf(protocol.CodeNotConnected, "send presence: %v", err)
	}
	e.roomsPresence(ctx, sess, args) // rooms get no broadcast presence: tell them (muc.go)
	return nil, nil
}

func (e *Engine) ownPresence() presenceArgs {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.presence
}

func (e *Engine) sendPresence(ctx context.Context, sess *xmpp.Session, a presenceArgs) error {
	p := stanza.Presence{XMLName: xml.Name{Space: stanza.NSClient, Local: "presence"}}
	var payload []xml.TokenReader
	if a.unavailable {
		p.Type = stanza.UnavailablePresence
	}
	if a.Show != "" && a.Show != "available" {
		payload = append(payload, textElement("show", a.Show))
	}
	if a.Status != "" {
		payload = append(payload, textElement("status", a.Status))
	}
	if a.Priority != nil {
		payload = append(payload, textElement("priority", strconv.Itoa(*a.Priority)))
	}
	if a.IdleSince != "" && !a.unavailable {
		payload = append(payload, xmlstream.Wrap(nil, xml.StartElement{
			Name: xml.Name{Space: nsIdle, Local: "idle"},
			Attr: []xml.Attr{{Name: xml.Name{Local: "since"}, Value: a.IdleSince}},
		}))
	}
	if !a.unavailable {
		payload = append(payload, ownCaps().TokenReader()) // caps.go
		payload = append(payload, e.avatarUpdate(sess)...) // XEP-0153 (avatar.go)
	}
	return sess.Send(ctx, p.Wrap(xmlstream.MultiReader(payload...)))
}

func textElement(name, text string) xml.TokenReader {
	return xmlstream.Wrap(xmlstream.Token(xml.CharData(text)), xml.StartElement{Name: xml.Name{Local: name}})
}

// stanzaError turns an XMPP stanza error into a protocol error carrying its condition.
func stanzaError(se *stanza.Error, what string) error {
	if se == nil {
		return protocol.Errorf(protocol.CodeInternal, "%s: error without a condition", what)
	}
	msg := fmt.Sprintf("%s: %s", what, se.Condition)
	for _, t := range se.Text {
		msg += ": " + t
		break
	}
	return protocol.Errorf(string(se.Condition), "%s", msg)
}
