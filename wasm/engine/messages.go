package engine

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/mam"
	"github.com/sparkweb/sparkweb/wasm/muc"
	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/styled"
)

// Message extensions: receipts (XEP-0184), chat markers (XEP-0333), chat states (XEP-0085),
// corrections (XEP-0308), retractions (XEP-0424), reactions (XEP-0444), replies (XEP-0461),
// styling (XEP-0393) and error replies. Everything that changes a message goes through the
// outbox like a message does, so it is not lost offline; chat states are ephemeral and are not.

const (
	nsReceipts   = "urn:xmpp:receipts"
	nsMarkers    = "urn:xmpp:chat-markers:0"
	nsChatStates = "http://jabber.org/protocol/chatstates"
	nsCorrect    = "urn:xmpp:message-correct:0"
	nsRetract    = "urn:xmpp:message-retract:1"
	nsRetract0   = "urn:xmpp:message-retract:0" // older form, inside XEP-0422 fastening
	nsFasten     = "urn:xmpp:fasten:0"
	nsReactions  = "urn:xmpp:reactions:0"
	nsReply      = "urn:xmpp:reply:0"
	nsFallback   = "urn:xmpp:fallback:0"
	nsHints      = "urn:xmpp:hints"
)

// Limits on reactions, from tabs and from the network alike.
const (
	maxReactions     = 20
	maxReactionBytes = 64
)

// retractFallback is the body a client without XEP-0424 shows instead of the retraction.
const retractFallback = "This person attempted to retract a previous message, but it's unsupported by your client."

var chatStates = []string{"active", "composing", "paused", "inactive", "gone"}

type idRef struct {
	ID string `xml:"id,attr"`
}

// ExtMessage is a <message/> with every extension the engine reads. It is exported only because
// encoding/xml cannot set fields with their own unmarshalers (JIDs, errors) through an unexported
// embedded struct; it is no API.
type ExtMessage struct {
	mam.Message
	Err             *stanza.Error `xml:"jabber:client error"`
	ReceiptRequest  *struct{}     `xml:"urn:xmpp:receipts request"`
	ReceiptReceived *idRef        `xml:"urn:xmpp:receipts received"`
	Displayed       *idRef        `xml:"urn:xmpp:chat-markers:0 displayed"`
	Active          *struct{}     `xml:"http://jabber.org/protocol/chatstates active"`
	Composing       *struct{}     `xml:"http://jabber.org/protocol/chatstates composing"`
	Paused          *struct{}     `xml:"http://jabber.org/protocol/chatstates paused"`
	Inactive        *struct{}     `xml:"http://jabber.org/protocol/chatstates inactive"`
	Gone            *struct{}     `xml:"http://jabber.org/protocol/chatstates gone"`
	Replace         *idRef        `xml:"urn:xmpp:message-correct:0 replace"`
	Retract         *struct {
		ID        string     `xml:"id,attr"`
		Moderated *moderated `xml:"urn:xmpp:message-moderate:1 moderated"` // XEP-0425 (mucmsg.go)
		Reason    string     `xml:"reason"`
	} `xml:"urn:xmpp:message-retract:1 retract"`
	ApplyTo *struct {
		ID        string    `xml:"id,attr"`
		Retract   *struct{} `xml:"urn:xmpp:message-retract:0 retract"`
		Moderated *struct {
			By      string    `xml:"by,attr"`
			Retract *struct{} `xml:"urn:xmpp:message-retract:0 retract"`
			Reason  string    `xml:"reason"`
		} `xml:"urn:xmpp:message-moderate:0 moderated"` // XEP-0425 0.2 (mucmsg.go)
	} `xml:"urn:xmpp:fasten:0 apply-to"`
	Reactions *struct {
		ID       string   `xml:"id,attr"`
		Reaction []string `xml:"reaction"`
	} `xml:"urn:xmpp:reactions:0 reactions"`
	Reply *struct {
		To string `xml:"to,attr"`
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:reply:0 reply"`
	Fallbacks []struct {
		For  string `xml:"for,attr"`
		Body []struct {
			// Strings, not ints: a bad offset must not make the whole message unreadable.
			Start string `xml:"start,attr"`
			End   string `xml:"end,attr"`
		} `xml:"body"`
	} `xml:"urn:xmpp:fallback:0 fallback"`
	Unstyled *struct{}    `xml:"urn:xmpp:styling:0 unstyled"`
	OOB      *incomingOOB `xml:"jabber:x:oob x"` // a shared file's URL (upload.go)
	// Room subject changes and mentions (muc.go).
	Subject    *string         `xml:"subject"`
	References []muc.Reference `xml:"urn:xmpp:reference:0 reference"`
	// OccupantID is the room's stable id for the author (XEP-0421, mucmsg.go).
	OccupantID *idRef `xml:"urn:xmpp:occupant-id:0 occupant-id"`
}

func (m *ExtMessage) chatState() string {
	for i, p := range []*struct{}{m.Active, m.Composing, m.Paused, m.Inactive, m.Gone} {
		if p != nil {
			return chatStates[i]
		}
	}
	return ""
}

// edit is a change to an earlier message.
type edit struct {
	kind      string // "correct", "retract", "react" or "moderate" (a moderator's retraction)
	ref       string // id of the message changed
	body      string
	reactions []string
	unstyled  bool
	by        string // who moderated, and why
	reason    string
}

func (m *ExtMessage) edit() *edit {
	switch {
	case m.Retract != nil && m.Retract.ID != "" && m.Retract.Moderated != nil:
		return &edit{kind: "moderate", ref: m.Retract.ID, by: m.Retract.Moderated.By, reason: m.Retract.Reason}
	case m.ApplyTo != nil && m.ApplyTo.ID != "" && m.ApplyTo.Moderated != nil && m.ApplyTo.Moderated.Retract != nil:
		return &edit{kind: "moderate", ref: m.ApplyTo.ID, by: m.ApplyTo.Moderated.By, reason: m.ApplyTo.Moderated.Reason}
	case m.Retract != nil && m.Retract.ID != "":
		return &edit{kind: "retract", ref: m.Retract.ID}
	case m.ApplyTo != nil && m.ApplyTo.Retract != nil && m.ApplyTo.ID != "":
		return &edit{kind: "retract", ref: m.ApplyTo.ID}
	case m.Replace != nil && m.Replace.ID != "" && m.Body != nil:
		return &edit{kind: "correct", ref: m.Replace.ID, body: *m.Body, unstyled: m.Unstyled != nil}
	case m.Reactions != nil && m.Reactions.ID != "":
		return &edit{kind: "react", ref: m.Reactions.ID, reactions: cleanReactions(m.Reactions.Reaction)}
	}
	return nil
}

// cleanReactions bounds reactions from the network: valid, short, distinct, few.
func cleanReactions(in []string) []string {
	out := []string{}
	for _, r := range in {
		if r == "" || len(r) > maxReactionBytes || !utf8.ValidString(r) || slices.Contains(out, r) {
			continue
		}
		if out = append(out, r); len(out) == maxReactions {
			break
		}
	}
	return out
}

// source says where a message came from: the live stream, a carbon copy or an archive query.
type source int

const (
	fromLive source = iota
	fromCarbon
	fromArchive
)

// inbound is a received message seen from our account.
type inbound struct {
	*ExtMessage
	from, to  jid.JID // resolved: never the blank mellium leaves for our own bare JID
	with      string  // bare JID of the conversation
	sender    string  // bare JID of the author
	outgoing  bool
	id        string // origin-id, else id, else archive id
	archiveID string
	stamp     time.Time
	src       source
	// In rooms (mucmsg.go): room is set for a groupchat message; author is who reactions are
	// filed under; nick is the author's nick there, also for a private message through a room
	// (pm); self marks our own edit applied by its op, which checked authorship already.
	room, pm, self bool
	author, nick   string
	occupantID     string
}

func newInbound(m *ExtMessage, me jid.JID, archiveID string, stamp time.Time, src source) inbound {
	in := inbound{ExtMessage: m, from: m.From, to: m.To, archiveID: archiveID, src: src}
	if in.from.Equal(jid.JID{}) {
		in.from = me.Bare()
	}
	if in.to.Equal(jid.JID{}) {
		in.to = me
	}
	in.sender = in.from.Bare().String()
	in.outgoing = in.from.Bare().Equal(me.Bare())
	in.with = in.from.Bare().String()
	if in.outgoing {
		in.with = in.to.Bare().String()
	}
	in.id = m.OriginID.ID
	if in.id == "" {
		in.id = m.ID
	}
	if in.id == "" {
		in.id = archiveID
	}
	if stamp.IsZero() && m.Delay.Stamp != "" {
		stamp, _ = time.Parse(time.RFC3339, m.Delay.Stamp)
	}
	if stamp.IsZero() {
		stamp = time.Now()
	}
	in.stamp = stamp
	return in
}

// message is the protocol's view of a received chat message.
func (in inbound) message() protocol.Message {
	id := in.id
	if id == "" {
		id = randomID()
	}
	msg := protocol.Message{
		ID: id, From: in.from.String(), To: in.to.String(), With: in.with, Body: in.bodyText(),
		Timestamp: timestamp(in.stamp), Outgoing: in.outgoing, StanzaID: in.archiveID,
	}
	if in.outgoing {
		msg.State = protocol.MessageSent // it came back from the server, so the server has it
	}
	if in.Reply != nil && in.Reply.ID != "" {
		msg.ReplyTo = &protocol.ReplyTo{ID: in.Reply.ID, To: in.Reply.To}
	}
	if in.Unstyled == nil {
		msg.Styled = styled.Parse(msg.Body)
	}
	msg.OOB = in.OOB.oob() // upload.go
	return msg
}

// bodyText is the body without the quote a reply carries for clients that do not know replies
// (XEP-0461 with XEP-0428): the reply is shown through ReplyTo instead.
func (in inbound) bodyText() string {
	body := *in.Body
	if in.Reply == nil {
		return body
	}
	for _, f := range in.Fallbacks {
		if f.For != nsReply {
			continue
		}
		for _, b := range f.Body {
			// Offsets count code points; a range that does not fit the body is ignored.
			start, err1 := strconv.Atoi(b.Start)
			end, err2 := strconv.Atoi(b.End)
			runes := []rune(body)
			if err1 != nil || err2 != nil || start < 0 || start > end || end > len(runes) {
				return body
			}
			return string(runes[:start]) + string(runes[end:])
		}
	}
	return body
}

// onMessageLocked files or applies one received message and returns the stanzas to send in
// answer (receipts). q collects archive results. e.mu must be held.
func (e *Engine) onMessageLocked(in inbound, q *archiveQuery) []xml.TokenReader {
	switch in.Type {
	case stanza.ErrorMessage:
		e.onErrorReplyLocked(in)
		return nil
	case stanza.ChatMessage, stanza.NormalMessage, "":
	case stanza.GroupChatMessage:
		e.onGroupChatLocked(in, q) // muc.go
		return nil
	default:
		return nil // headlines are not conversations
	}
	e.privateMessageLocked(&in) // through a room: a conversation of its own (mucmsg.go)
	var replies []xml.TokenReader
	if in.src == fromLive && !in.outgoing && in.ReceiptRequest != nil && in.ID != "" && in.Body != nil && e.mayReceiptLocked(in.sender) {
		replies = append(replies, receiptReply(in.from, in.ID))
	}
	if st := in.chatState(); st != "" && in.src != fromArchive && !in.outgoing {
		e.emitLocked("chatstate", protocol.ChatState{From: in.from.String(), With: in.with, State: st, Nick: in.nick})
	}
	if r := in.ReceiptReceived; r != nil && r.ID != "" && !in.outgoing {
		if e.advanceLocked(in.with, r.ID, protocol.MessageDelivered, nil) {
			e.emitLocked("receipt", protocol.Receipt{ID: r.ID, From: in.from.String(), With: in.with})
		}
	}
	if d := in.Displayed; d != nil && d.ID != "" {
		e.onDisplayedLocked(in, d.ID)
	}
	if ed := in.edit(); ed != nil {
		e.applyEditLocked(in, ed, q)
		return replies
	}
	if in.Body == nil {
		return replies
	}
	msg := in.message()
	if in.pm {
		msg.Type, msg.Nick = "chat", in.nick
	}
	if q != nil {
		q.messages = append(q.messages, msg)
	} else {
		e.fileLocked(msg, in.src != fromArchive)
	}
	return replies
}

// mayReceiptLocked reports whether a receipt may go to sender: only to contacts allowed to see
// our presence, as a receipt tells that we are online (XEP-0184 §8).
func (e *Engine) mayReceiptLocked(sender string) bool {
	it, ok := e.st.roster[sender]
	return ok && (it.Subscription == "from" || it.Subscription == "both")
}

func receiptReply(to jid.JID, id string) xml.TokenReader {
	m := stanza.Message{XMLName: xml.Name{Space: stanza.NSClient, Local: "message"}, ID: randomID(), To: to, Type: stanza.ChatMessage}
	return m.Wrap(emptyElement(nsReceipts, "received", "id", id))
}

// advanceLocked moves our message id in conversation with forward to state, never back (a late
// server ack must not undo "read"), and tells the tabs. It reports whether anything changed.
func (e *Engine) advanceLocked(with, id, state string, perr *protocol.Error) bool {
	conv := e.st.conversations[with]
	for i := len(conv) - 1; i >= 0; i-- {
		m := &conv[i]
		if m.ID != id || !m.Outgoing {
			continue
		}
		if !advances(m.State, state) {
			return false
		}
		m.State, m.Error = state, perr
		e.emitLocked("message", *m)
		e.persistConversationLocked(with)
		return true
	}
	return false
}

// advances reports whether an outgoing message may go from state from to state to.
func advances(from, to string) bool {
	rank := map[string]int{protocol.MessagePending: 1, protocol.MessageSent: 2, protocol.MessageDelivered: 3, protocol.MessageRead: 4}
	if to == protocol.MessageError {
		return from != protocol.MessageError && rank[from] < rank[protocol.MessageDelivered]
	}
	return rank[to] > rank[from]
}

// onDisplayedLocked handles a displayed marker: from the peer it marks our messages up to id
// read; from our own account (another client, or the archive) it tells the tabs we read them.
func (e *Engine) onDisplayedLocked(in inbound, id string) {
	if in.outgoing {
		e.emitLocked("displayed", protocol.Displayed{ID: id, From: in.from.String(), With: in.with, Outgoing: true})
		return
	}
	conv := e.st.conversations[in.with]
	at := slices.IndexFunc(conv, func(m protocol.Message) bool { return m.ID == id && m.Outgoing })
	if at < 0 {
		return
	}
	changed := false
	// A marker covers every earlier message too (XEP-0333 §4).
	for i := 0; i <= at; i++ {
		if m := &conv[i]; m.Outgoing && advances(m.State, protocol.MessageRead) && m.State != protocol.MessageError {
			m.State = protocol.MessageRead
			e.emitLocked("message", *m)
			changed = true
		}
	}
	if changed {
		e.persistConversationLocked(in.with)
		e.emitLocked("displayed", protocol.Displayed{ID: id, From: in.from.String(), With: in.with})
	}
}

// onErrorReplyLocked marks the message an error reply is about, or reports the error.
func (e *Engine) onErrorReplyLocked(in inbound) {
	perr := protocol.AsError(stanzaError(in.Err, "message to "+in.from.String()))
	if in.ID != "" {
		// A private message through a room is filed under the occupant's full JID (mucmsg.go).
		if e.advanceLocked(in.from.String(), in.ID, protocol.MessageError, perr) || e.advanceLocked(in.from.Bare().String(), in.ID, protocol.MessageError, perr) {
			return
		}
		if in.from.Localpart() == "" { // bounced by a server: find the message by id on that domain
			for with, conv := range e.st.conversations {
				if j, err := jid.Parse(with); err == nil && j.Domainpart() == in.from.Domainpart() {
					for _, m := range conv {
						if m.ID == in.ID && e.advanceLocked(with, in.ID, protocol.MessageError, perr) {
							return
						}
					}
				}
			}
		}
	}
	if in.src == fromLive {
		e.emitLocked("error", perr)
	}
}

// editKey identifies an edit, so one seen live is not applied again from the archive.
func editKey(in inbound) string {
	who := in.sender
	if in.room {
		who = in.from.String() // every occupant's bare JID is the room's
	}
	return "edit\x00" + in.with + "\x00" + who + "\x00" + in.id
}

// applyEditLocked applies a correction, retraction or reaction to the message it refers to:
// in an archive page being collected, and in the conversation held in memory. Corrections and
// retractions are honoured only from the message's author. e.mu must be held.
func (e *Engine) applyEditLocked(in inbound, ed *edit, q *archiveQuery) {
	// In a room the author of a message not held cannot be checked: no placeholder there.
	placeholders := ed.kind != "react" && !in.room
	if q != nil {
		if i := refIndex(q.messages, in.with, ed, in.room); i >= 0 {
			applyEdit(&q.messages[i], in, ed)
		} else if placeholders && !e.hasMessageLocked(in.with, ed.ref) {
			q.messages = append(q.messages, placeholder(in, ed))
		}
	}
	key := editKey(in)
	if in.id != "" && e.st.seen.has(key) {
		return
	}
	e.st.seen.add(key)
	conv := e.st.conversations[in.with]
	if i := refIndex(conv, in.with, ed, in.room); i >= 0 {
		if applyEdit(&conv[i], in, ed) {
			e.emitLocked("message", conv[i])
			e.persistConversationLocked(in.with)
		}
		return
	}
	if placeholders && q == nil {
		// The original is not here (yet): show the edited message in its place, under its id, so
		// the original is recognised as known should it arrive later and never shows unedited.
		e.fileLocked(placeholder(in, ed), false)
	}
}

func (e *Engine) hasMessageLocked(with, id string) bool {
	return slices.ContainsFunc(e.st.conversations[with], func(m protocol.Message) bool { return m.ID == id })
}

// placeholder is what stands for a message whose edit arrived before it.
func placeholder(in inbound, ed *edit) protocol.Message {
	m := protocol.Message{
		ID: ed.ref, From: in.from.String(), To: in.to.String(), With: in.with,
		Timestamp: timestamp(in.stamp), Outgoing: in.outgoing,
	}
	if in.outgoing {
		m.State = protocol.MessageSent
	}
	applyEdit(&m, in, ed)
	return m
}

// applyEdit changes m as ed says, if ed's author may; it reports whether m changed.
func applyEdit(m *protocol.Message, in inbound, ed *edit) bool {
	switch ed.kind {
	case "correct", "retract":
		author := bare(m.From) == in.sender
		if in.room {
			author = in.self || sameOccupant(*m, in) // mucmsg.go
		}
		if !author || m.Retracted {
			return false // only the author may change a message; a retracted one stays retracted
		}
	}
	switch ed.kind {
	case "correct":
		if m.Body == ed.body && m.CorrectedAt != "" {
			return false
		}
		m.Body, m.CorrectedAt, m.Styled = ed.body, timestamp(in.stamp), nil
		if !ed.unstyled {
			m.Styled = styled.Parse(ed.body)
		}
	case "retract":
		m.Retracted, m.Body, m.Styled, m.ReplyTo = true, "", nil, nil
	case "moderate":
		// Only the room itself announces a moderation; an occupant's claim is no proof.
		if !in.room || in.nick != "" || m.Retracted {
			return false
		}
		m.Retracted, m.Body, m.Styled, m.ReplyTo = true, "", nil, nil
		m.Moderated = &protocol.Moderated{By: clip(ed.by, 3*1024), Reason: clip(ed.reason, muc.MaxReason)}
	case "react":
		who := in.sender
		if in.author != "" {
			who = in.author // an occupant of a room (mucmsg.go)
		}
		if slices.Equal(m.Reactions[who], ed.reactions) || (len(ed.reactions) == 0 && m.Reactions[who] == nil) {
			return false
		}
		r := make(map[string][]string, len(m.Reactions)+1)
		for k, v := range m.Reactions {
			r[k] = v
		}
		if len(ed.reactions) == 0 {
			delete(r, who)
		} else {
			r[who] = ed.reactions
		}
		if len(r) == 0 {
			r = nil
		}
		m.Reactions = r
	}
	return true
}

// outAction is what an outbox entry sends besides a plain chat message.
type outAction struct {
	Kind      string   `json:"kind"` // "correct", "retract", "react" or "displayed"
	Ref       string   `json:"ref"`  // id of the message it is about
	Reactions []string `json:"reactions,omitempty"`
}

// outgoingStanza is the stanza an outbox entry sends: a chat message, or the action it holds.
// Every one carries its id as XEP-0359 origin-id, so receivers and archives recognise resends.
func outgoingStanza(oe outboxEntry) (xml.TokenReader, error) {
	m, act := oe.Message, oe.Action
	to, err := jid.Parse(m.To)
	if err != nil {
		return nil, fmt.Errorf("outgoing message %s: %w", m.ID, err)
	}
	msg := stanza.Message{XMLName: xml.Name{Space: stanza.NSClient, Local: "message"}, ID: m.ID, To: to, Type: stanza.ChatMessage}
	var payload []xml.TokenReader
	if m.Type == "groupchat" {
		msg.Type = stanza.GroupChatMessage // to a room (muc.go), actions too (mucmsg.go)
	}
	if m.Type == "chat" && m.Nick != "" {
		// A private message through a room says so (XEP-0045 §7.5), e.g. to be left out of carbons.
		payload = append(payload, emptyElement(muc.NSUser, "x"))
	}
	switch {
	case act == nil && m.Type == "groupchat":
		// The room's echo is the receipt.
		payload = append(payload, textElement("body", m.Body))
		if r := oe.wireReply(); r != nil {
			attrs := []string{"id", r.ID}
			if r.To != "" {
				attrs = append(attrs, "to", r.To)
			}
			payload = append(payload, emptyElement(nsReply, "reply", attrs...))
		}
	case act == nil:
		payload = append(payload, textElement("body", m.Body), emptyElement(nsReceipts, "request"), emptyElement(nsMarkers, "markable"))
		if m.ReplyTo != nil {
			attrs := []string{"id", m.ReplyTo.ID}
			if m.ReplyTo.To != "" {
				attrs = append(attrs, "to", m.ReplyTo.To)
			}
			payload = append(payload, emptyElement(nsReply, "reply", attrs...))
		}
	case act.Kind == "correct":
		payload = append(payload, textElement("body", m.Body), emptyElement(nsCorrect, "replace", "id", act.Ref))
	case act.Kind == "retract":
		payload = append(payload, textElement("body", retractFallback), emptyElement(nsRetract, "retract", "id", act.Ref),
			emptyElement(nsFallback, "fallback", "for", nsRetract), emptyElement(nsHints, "store"))
	case act.Kind == "react":
		reactions := make([]xml.TokenReader, 0, len(act.Reactions))
		for _, r := range act.Reactions {
			reactions = append(reactions, textElement("reaction", r))
		}
		payload = append(payload, xmlstream.Wrap(xmlstream.MultiReader(reactions...), xml.StartElement{
			Name: xml.Name{Space: nsReactions, Local: "reactions"}, Attr: []xml.Attr{{Name: xml.Name{Local: "id"}, Value: act.Ref}},
		}), emptyElement(nsHints, "store"))
	case act.Kind == "displayed":
		payload = append(payload, emptyElement(nsMarkers, "displayed", "id", act.Ref))
	default:
		return nil, fmt.Errorf("outgoing message %s: unknown action %q", m.ID, act.Kind)
	}
	if act == nil && m.OOB != nil {
		payload = append(payload, oobElement(m.OOB)) // upload.go
	}
	payload = append(payload, emptyElement(nsSID, "origin-id", "id", m.ID))
	return msg.Wrap(xmlstream.MultiReader(payload...)), nil
}

// emptyElement is <name xmlns=ns attr=value.../>; attrs alternate names and values.
func emptyElement(ns, name string, attrs ...string) xml.TokenReader {
	start := xml.StartElement{Name: xml.Name{Space: ns, Local: name}}
	for i := 0; i+1 < len(attrs); i += 2 {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: attrs[i]}, Value: attrs[i+1]})
	}
	return xmlstream.Wrap(nil, start)
}

// refArgs name a message in a conversation: the args of chat.retract, and the base of others.
type refArgs struct {
	To string `json:"to"`
	ID string `json:"id"`
}

func (a refArgs) parse() (jid.JID, error) {
	to, err := jidArg(a.To)
	if err != nil {
		return jid.JID{}, err
	}
	if a.ID == "" {
		return jid.JID{}, protocol.Errorf(protocol.CodeBadRequest, "message id required")
	}
	return to, nil
}

func (e *Engine) opCorrect(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		refArgs
		Body string `json:"body"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	to, err := args.parse()
	if err != nil {
		return nil, err
	}
	if err := validBody(args.Body); err != nil {
		return nil, err
	}
	return e.sendAction(ctx, to, args.Body, outAction{Kind: "correct", Ref: args.ID}, true)
}

func (e *Engine) opRetract(ctx context.Context, raw json.RawMessage) (any, error) {
	var args refArgs
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	to, err := args.parse()
	if err != nil {
		return nil, err
	}
	return e.sendAction(ctx, to, "", outAction{Kind: "retract", Ref: args.ID}, true)
}

func (e *Engine) opReact(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		refArgs
		Reactions []string `json:"reactions"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	to, err := args.parse()
	if err != nil {
		return nil, err
	}
	if len(args.Reactions) > maxReactions {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "at most %d reactions", maxReactions)
	}
	for _, r := range args.Reactions {
		if r == "" || len(r) > maxReactionBytes || !utf8.ValidString(r) {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "a reaction is a short non-empty text (an emoji), not %q", r)
		}
	}
	// All of our reactions to the message, not a change: an empty list removes ours.
	return e.sendAction(ctx, to, "", outAction{Kind: "react", Ref: args.ID, Reactions: cleanReactions(args.Reactions)}, false)
}

func (e *Engine) opDisplayed(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		With string `json:"with"`
		ID   string `json:"id"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	to, err := refArgs{To: args.With, ID: args.ID}.parse()
	if err != nil {
		return nil, err
	}
	if to.Resourcepart() != "" && !e.isPrivateTarget(to) {
		to = to.Bare()
	}
	return e.sendAction(ctx, to, "", outAction{Kind: "displayed", Ref: args.ID}, false)
}

// sendAction stores an action in the outbox, applies it to the state at once as the peer will,
// and wakes the sender. With own, the message must be one of ours held in memory (corrections
// and retractions); otherwise it may be any message, shown or only in the archive.
func (e *Engine) sendAction(ctx context.Context, to jid.JID, body string, act outAction, own bool) (any, error) {
	e.mu.Lock()
	if e.acct == nil {
		e.mu.Unlock()
		return nil, protocol.Errorf(protocol.CodeNotConnected, "not signed in")
	}
	me := jid.MustParse(e.acct.JID)
	tg := e.targetLocked(to) // mucmsg.go
	with := tg.with
	if tg.kind == "groupchat" {
		e.mu.Unlock()
		return e.sendRoomAction(ctx, tg, body, act, own)
	}
	if own {
		conv := e.st.conversations[with]
		i := slices.IndexFunc(conv, func(m protocol.Message) bool { return m.ID == act.Ref })
		switch {
		case i < 0:
			e.mu.Unlock()
			return nil, protocol.Errorf(string(stanza.ItemNotFound), "no message %s with %s", act.Ref, with)
		case !conv[i].Outgoing:
			e.mu.Unlock()
			return nil, protocol.Errorf(string(stanza.Forbidden), "message %s is not ours to change", act.Ref)
		case conv[i].Retracted:
			e.mu.Unlock()
			return nil, protocol.Errorf(protocol.CodeBadRequest, "message %s was retracted", act.Ref)
		}
	}
	out := protocol.Message{
		ID: randomID(), From: e.acct.JID, To: to.String(), With: with, Body: body,
		Timestamp: timestamp(time.Now()), Outgoing: true, State: protocol.MessagePending,
	}
	if tg.kind == "pm" {
		out.Type, out.Nick = "chat", tg.nick
	}
	ent := outboxEntry{Key: e.outboxKeyLocked(out), Message: out, Action: &act}
	e.mu.Unlock()
	if err := putOutbox(ctx, e, ent); err != nil {
		return nil, err
	}
	e.mu.Lock()
	if act.Kind == "displayed" {
		e.emitLocked("displayed", protocol.Displayed{ID: act.Ref, From: me.String(), With: with, Outgoing: true})
	} else {
		in := inbound{from: me, to: to, with: with, sender: me.Bare().String(), outgoing: true, id: out.ID, stamp: time.Now(), ExtMessage: &ExtMessage{}}
		e.applyEditLocked(in, &edit{kind: act.Kind, ref: act.Ref, body: body, reactions: act.Reactions}, nil)
	}
	e.mu.Unlock()
	e.kickOutbox()
	return map[string]string{"id": out.ID}, nil
}

func (e *Engine) opChatState(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		To    string `json:"to"`
		State string `json:"state"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	to, err := jidArg(args.To)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(chatStates, args.State) {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "state must be one of %v, not %q", chatStates, args.State)
	}
	sess, err := e.online()
	if err != nil {
		return nil, err // a chat state is only true now: never queued
	}
	m := stanza.Message{XMLName: xml.Name{Space: stanza.NSClient, Local: "message"}, ID: randomID(), To: to, Type: stanza.ChatMessage}
	payload := []xml.TokenReader{emptyElement(nsChatStates, args.State), emptyElement(nsHints, "no-store")}
	e.mu.Lock()
	switch e.targetLocked(to).kind { // mucmsg.go
	case "groupchat":
		m.Type = stanza.GroupChatMessage // the room shows it to every occupant
	case "pm":
		payload = append(payload, emptyElement(muc.NSUser, "x"))
	}
	e.mu.Unlock()
	if err := sess.Send(ctx, m.Wrap(xmlstream.MultiReader(payload...))); err != nil {
		return nil, protocol.Errorf(protocol.CodeNotConnected, "send chat state: %v", err)
	}
	return nil, nil
}

// validBody checks a body from a tab.
func validBody(body string) error {
	switch {
	case body == "":
		return protocol.Errorf(protocol.CodeBadRequest, "empty message")
	case len(body) > maxBody:
		return protocol.Errorf(protocol.CodeBadRequest, "message too long: %d bytes, at most %d", len(body), maxBody)
	case !utf8.ValidString(body):
		return protocol.Errorf(protocol.CodeBadRequest, "message is not valid UTF-8")
	}
	return nil
}
