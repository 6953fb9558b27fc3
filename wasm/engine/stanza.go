package engine

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strconv"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/mam"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// maxBody is the largest message body accepted from a tab; servers refuse larger stanzas.
const maxBody = 64 << 10

const nsSID = "urn:xmpp:sid:0"

// handle receives every stanza of the session; unanswered IQ get/set get mellium's
// service-unavailable reply.
func (e *Engine) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	// t holds the stanza without its start element; put it back so the decoder sees a whole element.
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t))
	switch start.Name.Local {
	case "message":
		var m incomingMessage
		if err := d.Decode(&m); err != nil {
			return e.malformed("message", err)
		}
		e.onMessage(m)
	case "presence":
		var p incomingPresence
		if err := d.Decode(&p); err != nil {
			return e.malformed("presence", err)
		}
		e.onPresence(p)
	case "iq":
		var iq struct {
			stanza.IQ
			Query *rosterQuery `xml:"jabber:iq:roster query"`
		}
		if err := d.Decode(&iq); err != nil {
			return e.malformed("iq", err)
		}
		// A roster push is only genuine from our own account (mellium blanks our bare JID).
		if iq.Type == stanza.SetIQ && iq.Query != nil && iq.From.Equal(jid.JID{}) {
			e.onRosterPush(*iq.Query)
			_, err := xmlstream.Copy(t, iq.Result(nil))
			return err
		}
	}
	return nil
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
	mam.Message
	Received *carbon     `xml:"urn:xmpp:carbons:2 received"`
	Sent     *carbon     `xml:"urn:xmpp:carbons:2 sent"`
	Result   *mam.Result `xml:"urn:xmpp:mam:2 result"`
}

type carbon struct {
	Forwarded mam.Forwarded `xml:"urn:xmpp:forward:0 forwarded"`
}

func (e *Engine) onMessage(m incomingMessage) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sess == nil {
		return
	}
	me := e.sess.LocalAddr()
	// Carbons and archive results are only genuine from our own account; mellium blanks our bare
	// JID in from, so a forged one from anyone else keeps its from and is dropped here.
	fromSelf := m.From.Equal(jid.JID{}) || m.From.Equal(me.Bare())
	switch {
	case m.Result != nil:
		q := e.queries[m.Result.QueryID]
		if !fromSelf || q == nil || m.Result.Forwarded.Message == nil {
			return
		}
		if msg, ok := chatMessage(*m.Result.Forwarded.Message, me, m.Result.ID, m.Result.Forwarded.Time()); ok {
			q.messages = append(q.messages, msg)
		}
	case m.Received != nil || m.Sent != nil:
		c := m.Received
		if c == nil {
			c = m.Sent
		}
		if !fromSelf || c.Forwarded.Message == nil {
			return
		}
		inner := *c.Forwarded.Message
		if msg, ok := chatMessage(inner, me, inner.StanzaID(me.Bare().String()), c.Forwarded.Time()); ok {
			e.fileLocked(msg, true)
		}
	default:
		if msg, ok := chatMessage(m.Message, me, m.StanzaID(me.Bare().String()), time.Time{}); ok {
			e.fileLocked(msg, true)
		}
	}
}

// chatMessage turns a received chat message into the protocol's, seen from account me.
// archiveID is its id in our archive, stamp when it was sent if known.
func chatMessage(m mam.Message, me jid.JID, archiveID string, stamp time.Time) (protocol.Message, bool) {
	switch {
	case m.Body == nil:
		return protocol.Message{}, false // chat states, receipts etc. arrive with later features
	case m.Type != stanza.ChatMessage && m.Type != stanza.NormalMessage && m.Type != "":
		return protocol.Message{}, false // group chat and headlines are not conversations
	}
	from, to := m.From, m.To
	if from.Equal(jid.JID{}) {
		from = me.Bare()
	}
	if to.Equal(jid.JID{}) {
		to = me
	}
	outgoing := from.Bare().Equal(me.Bare())
	with := from.Bare()
	if outgoing {
		with = to.Bare()
	}
	id := m.OriginID.ID
	if id == "" {
		id = m.ID
	}
	if id == "" {
		id = archiveID
	}
	if id == "" {
		id = randomID()
	}
	if stamp.IsZero() && m.Delay.Stamp != "" {
		stamp, _ = time.Parse(time.RFC3339, m.Delay.Stamp)
	}
	if stamp.IsZero() {
		stamp = time.Now()
	}
	msg := protocol.Message{
		ID: id, From: from.String(), To: to.String(), With: with.String(), Body: *m.Body,
		Timestamp: timestamp(stamp), Outgoing: outgoing, StanzaID: archiveID,
	}
	if outgoing {
		msg.State = protocol.MessageSent // it came back from the server, so the server has it
	}
	return msg, true
}

// timestamp formats t with a fixed width, so that timestamps sort as strings.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// fileLocked adds a message to its conversation and tells the tabs, once. A live message moves
// the archive position; one from a catch-up does not (it may be older than a live one).
// e.mu must be held.
func (e *Engine) fileLocked(msg protocol.Message, live bool) {
	if live && msg.StanzaID != "" && msg.StanzaID != e.st.lastArchived {
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
}

func (e *Engine) onPresence(p incomingPresence) {
	switch p.Type {
	case "", stanza.UnavailablePresence:
	default:
		return // subscription requests and errors arrive with later features
	}
	from := p.From
	e.mu.Lock()
	defer e.mu.Unlock()
	if from.Equal(jid.JID{}) && e.sess != nil {
		from = e.sess.LocalAddr().Bare() // mellium blanks our own bare JID
	}
	prio, _ := strconv.Atoi(p.Priority)
	pr := protocol.Presence{JID: from.String(), Bare: from.Bare().String(), Show: showOf(p.Show), Status: p.Status, Priority: prio}
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
	Show        string `json:"show"`
	Status      string `json:"status"`
	Priority    *int   `json:"priority"`
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
