package engine

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/muc"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// Message extensions in rooms, and private messages through rooms.
//
// In a room (XEP-0045) every occupant's bare JID is the room's, so the author of a message is
// an occupant: the same one when the room's occupant ids (XEP-0421) match, or, in a room that
// gives none, when the occupant JID room/nick does. Corrections (XEP-0308) name the message by
// its id attribute; retractions (XEP-0424), reactions (XEP-0444) and replies (XEP-0461) by the
// stanza-id the room gave it (XEP-0359, by the room). Chat states go to the room as groupchat
// messages. Displayed markers (XEP-0333) are not sent to rooms: they would tell every occupant
// what the user has read.
//
// A private message through a room (type chat to or from room/nick) belongs to neither the
// room's conversation nor a contact's: it is filed under the occupant's full JID.

const nsOccupantID = "urn:xmpp:occupant-id:0"

// maxOccupantID bounds an occupant id from the network (Prosody's are 44 bytes).
const maxOccupantID = 256

// target is what a JID from a tab names.
type target struct {
	with string // the conversation: a contact's or a room's bare JID, or an occupant's full JID
	kind string // "groupchat" (a room we are in), "pm" (an occupant of one) or "" (a contact)
	nick string // our nick in the room
}

// targetLocked resolves to against the rooms we are in (or joining); e.mu must be held.
func (e *Engine) targetLocked(to jid.JID) target {
	b := to.Bare().String()
	nick, ok := e.roomNickLocked(b)
	switch {
	case !ok:
		return target{with: b}
	case to.Resourcepart() == "":
		return target{with: b, kind: "groupchat", nick: nick}
	}
	return target{with: to.String(), kind: "pm", nick: nick}
}

// isPrivateTarget reports whether to is an occupant of a room we are in.
func (e *Engine) isPrivateTarget(to jid.JID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.targetLocked(to).kind == "pm"
}

// isRoomLocked reports whether a bare JID is a room: one we are in, or whose messages we hold.
func (e *Engine) isRoomLocked(b string) bool {
	if _, ok := e.st.rooms[b]; ok {
		return true
	}
	conv := e.st.conversations[b]
	return len(conv) > 0 && conv[len(conv)-1].Type == "groupchat"
}

// privateMessageLocked files a chat message with an occupant of a room under the occupant's
// full JID, with the author's nick; e.mu must be held.
func (e *Engine) privateMessageLocked(in *inbound) {
	peer := in.from
	if in.outgoing {
		peer = in.to
	}
	if peer.Resourcepart() == "" || !e.isRoomLocked(peer.Bare().String()) {
		return
	}
	in.with, in.pm = peer.String(), true
	if in.outgoing {
		in.nick, _ = e.roomNickLocked(peer.Bare().String())
	} else {
		in.nick = clip(peer.Resourcepart(), muc.MaxNick)
		in.author = peer.String() // the room's bare JID is every occupant's
	}
}

// roomInboundLocked completes a room message with its author, as an occupant; e.mu must be held.
func (e *Engine) roomInboundLocked(in *inbound, r *room, key, nick string) {
	in.room, in.nick, in.with = true, nick, key
	// Only a room that announces occupant ids vouches for them: elsewhere anyone could send one.
	if r != nil && r.occupantIDs && in.OccupantID != nil && len(in.OccupantID.ID) <= maxOccupantID {
		in.occupantID = in.OccupantID.ID
	}
	in.author = occupantKey(r, key, nick, in.occupantID)
}

// roomExtrasLocked handles what a room message carries besides a body: a chat state, and a
// correction, retraction or reaction. It reports whether the message was an edit, which is
// then not a message of its own. e.mu must be held.
func (e *Engine) roomExtrasLocked(in inbound, q *archiveQuery, ourNick string) bool {
	if st := in.chatState(); st != "" && q == nil && in.src == fromLive && in.nick != "" && in.nick != ourNick {
		e.emitLocked("chatstate", protocol.ChatState{From: in.from.String(), With: in.with, State: st, Nick: in.nick})
	}
	ed := in.edit()
	if ed == nil {
		return false
	}
	e.applyEditLocked(in, ed, q)
	return true
}

// occupantKey names an occupant for reactions: its real bare JID when the room shows it to us,
// else its occupant id, else its occupant JID.
func occupantKey(r *room, key, nick, occupantID string) string {
	if r != nil {
		if o, ok := r.occupants[nick]; ok && o.JID != "" && (occupantID == "" || o.OccupantID == "" || o.OccupantID == occupantID) {
			return bare(o.JID)
		}
	}
	if occupantID != "" {
		return occupantID
	}
	return key + "/" + nick
}

// sameOccupant reports whether the author of in wrote m: the same occupant id when both have
// one (it survives nick changes and cannot be forged in a room that gives them), else the
// same occupant JID.
func sameOccupant(m protocol.Message, in inbound) bool {
	if m.OccupantID != "" && in.occupantID != "" {
		return m.OccupantID == in.occupantID
	}
	return m.From == in.from.String()
}

// refIndex finds the message an edit refers to, newest first, or -1. In a room, retractions and
// reactions name the room's stanza-id; a message the room gave none (a room without an archive)
// is named by its id, as are corrections everywhere.
func refIndex(msgs []protocol.Message, with string, ed *edit, room bool) int {
	byStanzaID := room && ed.kind != "correct"
	for i := len(msgs) - 1; i >= 0; i-- {
		m := &msgs[i]
		if m.With != with {
			continue
		}
		if byStanzaID && m.StanzaID != "" {
			if m.StanzaID == ed.ref {
				return i
			}
			continue
		}
		if m.ID == ed.ref {
			return i
		}
	}
	return -1
}

// roomMessageLocked finds a message of a room's conversation by its id or its stanza-id.
func (e *Engine) roomMessageLocked(room, id string) (protocol.Message, bool) {
	conv := e.st.conversations[room]
	for i := len(conv) - 1; i >= 0; i-- {
		if conv[i].ID == id || conv[i].StanzaID == id {
			return conv[i], true
		}
	}
	return protocol.Message{}, false
}

// roomRef is how a retraction, reaction or reply names a room message.
func roomRef(m protocol.Message) string {
	if m.StanzaID != "" {
		return m.StanzaID
	}
	return m.ID
}

// roomReplyLocked turns a tab's reply to a room message into what our copy shows (the message's
// id and author) and what the wire says (its stanza-id and occupant JID). A message not held
// is taken as named by its stanza-id.
func (e *Engine) roomReplyLocked(room string, r *protocol.ReplyTo) (local, wire *protocol.ReplyTo) {
	if r == nil {
		return nil, nil
	}
	m, ok := e.roomMessageLocked(room, r.ID)
	if !ok {
		return r, nil
	}
	return &protocol.ReplyTo{ID: m.ID, To: m.From}, &protocol.ReplyTo{ID: roomRef(m), To: m.From}
}

// roomReplyInLocked names the message a received room reply answers by its id, when held.
func (e *Engine) roomReplyInLocked(msg *protocol.Message) {
	if msg.ReplyTo == nil {
		return
	}
	if m, ok := e.roomMessageLocked(msg.With, msg.ReplyTo.ID); ok {
		msg.ReplyTo.ID = m.ID
	}
}

// sendRoomAction is sendAction for a room we are in: the action names the message as the room
// knows it, goes out as a groupchat message from our nick, and is applied at once. A displayed
// marker is only told to the tabs.
func (e *Engine) sendRoomAction(ctx context.Context, tg target, body string, act outAction, own bool) (any, error) {
	me := tg.with + "/" + tg.nick
	e.mu.Lock()
	if act.Kind == "displayed" {
		e.emitLocked("displayed", protocol.Displayed{ID: act.Ref, From: me, With: tg.with, Outgoing: true})
		e.mu.Unlock()
		return nil, nil
	}
	m, ok := e.roomMessageLocked(tg.with, act.Ref)
	var err error
	switch {
	case own && !ok:
		err = protocol.Errorf(string(stanza.ItemNotFound), "no message %s in %s", act.Ref, tg.with)
	case own && !m.Outgoing:
		err = protocol.Errorf(string(stanza.Forbidden), "message %s is not ours to change", act.Ref)
	case own && m.Retracted:
		err = protocol.Errorf(protocol.CodeBadRequest, "message %s was retracted", act.Ref)
	case ok && act.Kind != "correct" && m.StanzaID == "" && m.State == protocol.MessagePending:
		// Others will know it by the id the room gives it, which its echo brings.
		err = protocol.Errorf(protocol.CodeBadRequest, "message %s is not in the room yet: retry once it is sent", act.Ref)
	}
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	if ok {
		act.Ref = roomRef(m)
		if act.Kind == "correct" {
			act.Ref = m.ID
		}
	}
	out := protocol.Message{
		ID: randomID(), From: me, To: tg.with, With: tg.with, Body: body, Timestamp: timestamp(time.Now()),
		Outgoing: true, State: protocol.MessagePending, Type: "groupchat", Nick: tg.nick,
	}
	ent := outboxEntry{Key: e.outboxKeyLocked(out), Message: out, Action: &act}
	from, _ := jid.Parse(me)
	in := inbound{
		ExtMessage: &ExtMessage{}, from: from, to: from.Bare(), with: tg.with, sender: tg.with,
		outgoing: true, id: out.ID, stamp: time.Now(), room: true, self: true, nick: tg.nick,
	}
	r := e.st.rooms[tg.with]
	if r != nil && r.occupantIDs {
		in.occupantID = r.occupants[tg.nick].OccupantID
	}
	in.author = occupantKey(r, tg.with, tg.nick, in.occupantID)
	e.mu.Unlock()
	if err := putOutbox(ctx, e, ent); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.applyEditLocked(in, &edit{kind: act.Kind, ref: act.Ref, body: body, reactions: act.Reactions}, nil)
	e.mu.Unlock()
	e.kickOutbox()
	return map[string]string{"id": out.ID}, nil
}

// Moderation (XEP-0425): a moderator asks the room to retract a message, and the room announces
// the retraction from its own JID. Both the current form (urn:xmpp:message-moderate:1) and the
// 0.2 form inside a XEP-0422 fastening (urn:xmpp:message-moderate:0, Prosody's
// mod_muc_moderation) are understood; a request uses the one the room announces.
const (
	nsModerate  = "urn:xmpp:message-moderate:1"
	nsModerate0 = "urn:xmpp:message-moderate:0"
)

// moderated is the <moderated/> of a room's announcement: who moderated.
type moderated struct {
	By string `xml:"by,attr"`
}

// moderateRequest is the payload of the IQ asking a room to retract message id.
func moderateRequest(ns, id, reason string) xml.TokenReader {
	var parts []xml.TokenReader
	if ns == nsModerate {
		parts = append(parts, emptyElement(nsRetract, "retract"))
	} else {
		parts = append(parts, emptyElement(nsRetract0, "retract"))
	}
	if reason != "" {
		parts = append(parts, textElement("reason", reason))
	}
	if ns == nsModerate {
		return xmlstream.Wrap(xmlstream.MultiReader(parts...), xml.StartElement{
			Name: xml.Name{Space: nsModerate, Local: "moderate"}, Attr: []xml.Attr{{Name: xml.Name{Local: "id"}, Value: id}},
		})
	}
	inner := xmlstream.Wrap(xmlstream.MultiReader(parts...), xml.StartElement{Name: xml.Name{Space: nsModerate0, Local: "moderate"}})
	return xmlstream.Wrap(inner, xml.StartElement{
		Name: xml.Name{Space: nsFasten, Local: "apply-to"}, Attr: []xml.Attr{{Name: xml.Name{Local: "id"}, Value: id}},
	})
}

func (e *Engine) opMUCModerate(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Room   string `json:"room"`
		ID     string `json:"id"`
		Reason string `json:"reason"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	rj, err := roomArg(args.Room)
	if err != nil {
		return nil, err
	}
	if args.ID == "" {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "message id required")
	}
	if err := textArg("reason", args.Reason, muc.MaxReason); err != nil {
		return nil, err
	}
	key := rj.String()
	e.mu.Lock()
	r := e.st.rooms[key]
	if r == nil || r.State != protocol.RoomJoined {
		e.mu.Unlock()
		return nil, protocol.Errorf(string(stanza.ItemNotFound), "not in room %s", key)
	}
	ns, ref := r.moderation, args.ID
	if m, ok := e.roomMessageLocked(key, args.ID); ok {
		ref = m.StanzaID // the room knows its messages by the ids it gave them
	}
	e.mu.Unlock()
	switch {
	case ns == "":
		return nil, protocol.Errorf(protocol.CodeNotImplemented, "room %s does not offer message moderation (XEP-0425)", key)
	case ref == "":
		return nil, protocol.Errorf(protocol.CodeBadRequest, "the room gave message %s no id: it cannot be moderated", args.ID)
	}
	return nil, e.sendIQ(ctx, "moderate a message in "+key, stanza.SetIQ, rj, moderateRequest(ns, ref, args.Reason), nil)
}

// setFeatures notes what the room's disco#info says it offers for message extensions; e.mu
// must be held (or r not shared yet).
func (r *room) setFeatures(info discoInfo) {
	r.occupantIDs, r.moderation = info.has(nsOccupantID), ""
	for _, ns := range []string{nsModerate, nsModerate0} {
		if r.moderation == "" && info.has(ns) {
			r.moderation = ns
		}
	}
}

// learnRoomFeatures asks a room our join just created what it offers.
func (e *Engine) learnRoomFeatures(ctx context.Context, rj jid.JID, r *room) {
	info, _, err := e.roomInfo(ctx, rj)
	if err != nil {
		e.log.Warn("room features", "room", rj.String(), "err", err)
		return
	}
	e.mu.Lock()
	r.setFeatures(info)
	e.mu.Unlock()
}

// isPrivateConversation reports whether with names an occupant of a room: a private
// conversation, whose history is the account archive's messages with that full JID.
func (e *Engine) isPrivateConversation(with jid.JID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return with.Resourcepart() != "" && e.isRoomLocked(with.Bare().String())
}
