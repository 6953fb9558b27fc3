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

type incomingMessage struct {
	stanza.Message
	Body     *string `xml:"body"`
	OriginID struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:sid:0 origin-id"`
	Delay struct {
		Stamp string `xml:"stamp,attr"`
	} `xml:"urn:xmpp:delay delay"`
}

func (e *Engine) onMessage(m incomingMessage) {
	if m.Body == nil || (m.Type != stanza.ChatMessage && m.Type != stanza.NormalMessage) {
		return // chat states, receipts, group chat etc. arrive with later features
	}
	id := m.OriginID.ID
	if id == "" {
		id = m.ID
	}
	if id == "" {
		id = randomID()
	}
	ts := time.Now().UTC()
	if m.Delay.Stamp != "" {
		if t, err := time.Parse(time.RFC3339, m.Delay.Stamp); err == nil {
			ts = t.UTC()
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	me := jid.JID{}
	if e.sess != nil {
		me = e.sess.LocalAddr()
	}
	msg := protocol.Message{
		ID: id, From: m.From.String(), To: m.To.String(), With: m.From.Bare().String(),
		Body: *m.Body, Timestamp: ts.Format(time.RFC3339Nano),
	}
	if m.To.Equal(jid.JID{}) {
		msg.To = me.String()
	}
	if e.st.addMessage(msg) {
		e.emitLocked("message", msg)
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
	e.emitLocked("roster", protocol.Roster{Items: items, Full: false})
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
	if err := e.sendPresence(ctx, sess, args); err != nil {
		return nil, protocol.Errorf(protocol.CodeNotConnected, "send presence: %v", err)
	}
	return nil, nil
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

func (e *Engine) opChatSend(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		To   string `json:"to"`
		Body string `json:"body"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	to, err := jid.Parse(args.To)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "invalid JID %q", args.To)
	}
	switch {
	case args.Body == "":
		return nil, protocol.Errorf(protocol.CodeBadRequest, "empty message")
	case len(args.Body) > maxBody:
		return nil, protocol.Errorf(protocol.CodeBadRequest, "message too long: %d bytes, at most %d", len(args.Body), maxBody)
	case !utf8.ValidString(args.Body):
		return nil, protocol.Errorf(protocol.CodeBadRequest, "message is not valid UTF-8")
	}
	sess, err := e.online()
	if err != nil {
		return nil, err
	}
	id := randomID()
	msg := stanza.Message{XMLName: xml.Name{Space: stanza.NSClient, Local: "message"}, ID: id, To: to, Type: stanza.ChatMessage}
	originID := xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: nsSID, Local: "origin-id"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "id"}, Value: id}},
	})
	if err := sess.Send(ctx, msg.Wrap(xmlstream.MultiReader(textElement("body", args.Body), originID))); err != nil {
		return nil, protocol.Errorf(protocol.CodeNotConnected, "send message: %v", err)
	}
	out := protocol.Message{
		ID: id, From: sess.LocalAddr().String(), To: to.String(), With: to.Bare().String(),
		Body: args.Body, Timestamp: time.Now().UTC().Format(time.RFC3339Nano), Outgoing: true,
	}
	e.mu.Lock()
	if e.st.addMessage(out) {
		e.emitLocked("message", out)
	}
	e.mu.Unlock()
	return map[string]string{"id": id}, nil
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
