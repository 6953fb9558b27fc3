package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/ping"

	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/storage"
	"github.com/sparkweb/sparkweb/wasm/styled"
)

// The outbox: every message a tab sends is stored before anything else happens, then one pump
// per session sends what is stored, in order. A message stays "pending" (and stored) until the
// server has it, so one typed offline, or lost with a dropped connection, goes out once the
// session is back. "The server has it" is proven by a ping answered after it: a server handles
// a stream's stanzas in order, so the answer acknowledges everything sent before. Its id doubles as XEP-0359 origin-id, so a resend after a failed resumption
// is recognised as the same message by every receiver and by the archive.

const outboxPrefix = "outbox/"

// outboxBatch is how many messages go out before a ping acknowledges them: small enough that
// a connection lost mid-batch costs few resends, large enough to keep round trips rare.
const outboxBatch = 20

// outboxEntry is a stored pending message. Its key orders the outbox: time, then a sequence for
// messages sent within the same millisecond.
type outboxEntry struct {
	Key     string           `json:"key"`
	Message protocol.Message `json:"message"`
	// Action, when set, is what the entry sends instead of a chat message (messages.go).
	Action *outAction `json:"action,omitempty"`
	// Reply is what a reply names on the wire when that differs from Message.ReplyTo: in a
	// room, the message's stanza-id and author's occupant JID (mucmsg.go).
	Reply *protocol.ReplyTo `json:"reply,omitempty"`
}

// wireReply is the message the entry's reply names on the wire, or nil.
func (oe outboxEntry) wireReply() *protocol.ReplyTo {
	if oe.Reply != nil {
		return oe.Reply
	}
	return oe.Message.ReplyTo
}

func (e *Engine) opChatSend(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		To      string            `json:"to"`
		Body    string            `json:"body"`
		ReplyTo *protocol.ReplyTo `json:"replyTo"`
		OOB     string            `json:"oob"` // URL of a shared file (XEP-0066, upload.go)
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	if args.OOB != "" && !webURL(args.OOB) {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "oob must be an http(s) URL of at most %d bytes", maxURL)
	}
	to, err := jidArg(args.To)
	if err != nil {
		return nil, err
	}
	if err := validBody(args.Body); err != nil {
		return nil, err
	}
	if args.ReplyTo != nil && args.ReplyTo.ID == "" {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "replyTo needs the id of the message replied to")
	}
	e.mu.Lock()
	if e.acct == nil {
		e.mu.Unlock()
		return nil, protocol.Errorf(protocol.CodeNotConnected, "not signed in")
	}
	out := protocol.Message{
		ID: randomID(), From: e.acct.JID, To: to.String(), With: to.Bare().String(), Body: args.Body,
		Timestamp: timestamp(time.Now()), Outgoing: true, State: protocol.MessagePending,
		ReplyTo: args.ReplyTo, Styled: styled.Parse(args.Body),
	}
	if args.OOB != "" {
		out.OOB = &protocol.OOB{URL: args.OOB}
	}
	var wire *protocol.ReplyTo
	switch tg := e.targetLocked(to); tg.kind { // mucmsg.go
	case "groupchat":
		// To a room we are in (muc.go): a groupchat message from our nick there.
		out.Type, out.Nick, out.From = "groupchat", tg.nick, out.With+"/"+tg.nick
		out.ReplyTo, wire = e.roomReplyLocked(out.With, out.ReplyTo)
	case "pm":
		out.With, out.Type, out.Nick = tg.with, "chat", tg.nick
	}
	ent := outboxEntry{Key: e.outboxKeyLocked(out), Message: out, Reply: wire}
	e.mu.Unlock()
	if err := putOutbox(ctx, e, ent); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.fileLocked(out, true)
	e.mu.Unlock()
	e.kickOutbox()
	return map[string]string{"id": out.ID}, nil
}

// outboxKeyLocked is the storage key of a new outbox entry for m; e.mu must be held.
func (e *Engine) outboxKeyLocked(m protocol.Message) string {
	e.outboxSeq++
	return fmt.Sprintf("%s%s/%06d/%s", outboxPrefix, m.Timestamp, e.outboxSeq%1e6, m.ID)
}

// putOutbox stores an entry durably, before the op that made it answers.
func putOutbox(ctx context.Context, e *Engine, ent outboxEntry) error {
	if err := storage.PutJSON(ctx, e.store, ent.Key, ent); err != nil {
		return protocol.Errorf(protocol.CodeInternal, "keep message: %v", err)
	}
	return nil
}

func (e *Engine) kickOutbox() {
	select {
	case e.outboxKick <- struct{}{}:
	default:
	}
}

// pumpOutbox sends stored messages over sess until the session ends.
func (e *Engine) pumpOutbox(sess *xmpp.Session, done <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-done
		cancel()
	}()
	for {
		entries, err := e.store.List(ctx, outboxPrefix)
		if err != nil {
			e.log.Error("read outbox", "err", err)
		}
		var batch []outboxEntry
		for _, ent := range entries {
			var oe outboxEntry
			if err := json.Unmarshal([]byte(ent.Value), &oe); err != nil {
				e.log.Error("drop unreadable outbox entry", "key", ent.Key, "err", err)
				_ = e.store.Delete(ctx, ent.Key)
				continue
			}
			e.mu.Lock()
			already := e.outboxSent[oe.Message.ID]
			joining := (oe.Message.Type == "groupchat" || oe.Message.Nick != "") && e.roomJoiningLocked(bare(oe.Message.With))
			e.mu.Unlock()
			if already {
				continue // on its way in this stream; stream management resends it if needed
			}
			if joining {
				continue // the room would refuse it before our join completes, which kicks the pump (muc.go)
			}
			if err := transmit(ctx, sess, oe); err != nil {
				e.log.Warn("send from outbox", "id", oe.Message.ID, "err", err)
				break // the session is failing; the next one resends
			}
			e.mu.Lock()
			e.outboxSent[oe.Message.ID] = true
			e.pendingAcks[oe.Message.ID] = oe
			e.mu.Unlock()
			batch = append(batch, oe)
			if len(batch) == outboxBatch {
				break
			}
		}
		if len(batch) > 0 && !acknowledges(sess, e) {
			if err := ping.Send(ctx, sess, sess.LocalAddr().Domain()); err != nil {
				// Unacknowledged: the entries stay stored and the next session sends them again;
				// receivers recognise a resend by its origin-id.
				e.log.Warn("outbox not acknowledged", "n", len(batch), "err", err)
			} else {
				for _, oe := range batch {
					e.delivered(ctx, oe)
				}
			}
		}
		if len(batch) == outboxBatch {
			continue // more to send
		}
		select {
		case <-e.outboxKick:
		case <-done:
			return
		}
	}
}

// transmit writes one outbox entry (see outgoingStanza).
func transmit(ctx context.Context, sess *xmpp.Session, oe outboxEntry) error {
	r, err := outgoingStanza(oe)
	if err != nil {
		return err
	}
	return sess.Send(ctx, r)
}

// acknowledges reports whether stream management acknowledges what sess sends; without it the
// pump proves delivery with a ping.
func acknowledges(sess *xmpp.Session, e *Engine) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sm != nil && e.sess == sess && e.sm.Info().Enabled
}

// onAcked receives the stanzas the server acknowledged (XEP-0198). It runs on the stream's
// reading goroutine, so the outbox bookkeeping, which may wait for IndexedDB, happens elsewhere.
func (e *Engine) onAcked(frames [][]byte) {
	var done []outboxEntry
	e.mu.Lock()
	for _, f := range frames {
		if id := messageID(f); id != "" {
			if oe, ok := e.pendingAcks[id]; ok {
				done = append(done, oe)
			}
		}
	}
	e.mu.Unlock()
	if len(done) > 0 {
		go func() {
			for _, oe := range done {
				e.delivered(context.Background(), oe)
			}
		}()
	}
}

// messageID reads the id of a <message/> frame, or "" for any other stanza.
func messageID(frame []byte) string {
	d := xml.NewDecoder(bytes.NewReader(frame))
	tok, err := d.Token()
	if err != nil {
		return ""
	}
	start, ok := tok.(xml.StartElement)
	if !ok || start.Name.Local != "message" {
		return ""
	}
	for _, a := range start.Attr {
		if a.Name.Local == "id" {
			return a.Value
		}
	}
	return ""
}

// delivered marks a message sent once the server has it, and lets go of its outbox entry.
func (e *Engine) delivered(ctx context.Context, oe outboxEntry) {
	m := oe.Message
	e.mu.Lock()
	if _, ok := e.pendingAcks[m.ID]; !ok {
		e.mu.Unlock()
		return // already done: an ack and a ping may both confirm it
	}
	delete(e.pendingAcks, m.ID)
	conv := e.st.conversations[m.With]
	for i := len(conv) - 1; i >= 0; i-- {
		if conv[i].ID == m.ID && conv[i].Outgoing {
			// A receipt or marker may have beaten the ack: never step back. A room message is
			// sent when the room echoes it (muc.go): the room may still refuse it.
			if oe.Action == nil && conv[i].Type != "groupchat" && conv[i].State == protocol.MessagePending {
				conv[i].State = protocol.MessageSent
				e.emitLocked("message", conv[i])
				e.persistConversationLocked(m.With)
			}
			break
		}
	}
	e.mu.Unlock()
	if err := e.store.Delete(ctx, oe.Key); err != nil {
		e.log.Error("outbox delete", "id", m.ID, "err", err)
	}
}
