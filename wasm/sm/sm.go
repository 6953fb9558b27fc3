// Package sm is XEP-0198 stream management for the SparkWeb engine: stanza acknowledgement and
// stream resumption over an xmppws.Conn (mellium.im/xmpp has no XEP-0198).
//
// A State outlives connections. Login logs in and enables stream management with resumption;
// from then on the State counts the stanzas handled in each direction, answers the server's ack
// requests, requests acks itself (after sending and every AckInterval) and keeps every stanza
// the server has not acknowledged. When the connection drops, Resume on a new connection
// authenticates again and resumes the session instead of binding a new resource, then resends
// what the server did not get. If the server cannot resume, Resume returns a *FailedError
// holding the unacknowledged stanzas, so the caller can log in afresh and resend them itself.
//
//	st := sm.New(sm.Options{Acked: markDelivered})
//	sess, err := st.Login(ctx, conn, cfg)      // instead of xmppws.Login
//	go sess.Serve(handler)                     // returns when the connection drops
//	sess, err = st.Resume(ctx, newConn, cfg)   // same cfg; a *FailedError means log in afresh
//
// Counting happens per frame in the connection's hooks: over RFC 7395 every WebSocket message is
// one element, so each iq, message or presence frame is one stanza, and acks never reach the
// XMPP library. An inbound stanza counts as handled once its frame is handed to the session's
// reader, which processes it before reading further.
package sm

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// NS is the XEP-0198 namespace.
const NS = "urn:xmpp:sm:3"

// Defaults for Options.
const (
	DefaultAckInterval = 30 * time.Second
	DefaultAckTimeout  = 30 * time.Second
)

// ErrNotEnabled is returned by RequestAck when stream management is not on for a live connection.
var ErrNotEnabled = errors.New("sm: stream management is not enabled")

// Options tune a State. The zero value is fine.
type Options struct {
	// AckInterval is how often an ack is requested on an otherwise quiet stream, which also
	// tells a dead connection from a quiet one. Zero means DefaultAckInterval.
	AckInterval time.Duration
	// AckTimeout is how long an ack request may go unanswered before the connection is taken
	// for dead and dropped (CloseNow), so that Serve returns and the caller can Resume.
	// Zero means DefaultAckTimeout; negative never gives up.
	AckTimeout time.Duration
	// Acked, if set, is called with the stanzas the server has just acknowledged, oldest first,
	// as serialized frames. It runs on the goroutine reading the stream: it must not block or
	// use the session.
	Acked func(stanzas [][]byte)
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// State is the stream management state of one XMPP session, across its connections. It is
// safe for concurrent use, but Login and Resume must not run at the same time.
type State struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	conn      *xmppws.Conn  // the connection counted on; hooks of any other are ignored
	kick      chan struct{} // wakes conn's ack requester after a stanza is sent
	jid       jid.JID       // full JID bound, restored on resumption
	id        string
	location  string
	max       time.Duration
	enabled   bool // the server has enabled stream management for this session
	resumable bool
	countIn   bool // counting inbound stanzas on conn
	countOut  bool // counting outbound stanzas on conn
	handled   uint32
	sent      uint32
	acked     uint32
	unacked   [][]byte
	requested uint32    // sent at the last <r/>: no new request until more is sent
	waiting   time.Time // when the oldest unanswered <r/> went out, zero if none
	idle      bool      // SetIdle: no periodic <r/> while everything sent is acknowledged
}

// New returns a State for a session not logged in yet.
func New(opts Options) *State {
	if opts.AckInterval <= 0 {
		opts.AckInterval = DefaultAckInterval
	}
	if opts.AckTimeout == 0 {
		opts.AckTimeout = DefaultAckTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &State{opts: opts, log: log}
}

// Info is a copy of a State's resumable part. It can be stored and given to Restore to resume
// the session from another State, e.g. in the next engine after a handover.
type Info struct {
	// JID is the full JID the session is bound to.
	JID string `json:"jid"`
	// ID is the server's stream management id (previd when resuming).
	ID string `json:"id,omitempty"`
	// Location is where the server prefers resumption to happen, if it said.
	Location string `json:"location,omitempty"`
	// Max is how long the server keeps a dropped session, if it said.
	Max time.Duration `json:"max,omitempty"`
	// Enabled is whether stream management is on; Resumable whether the server allows resuming.
	Enabled   bool `json:"enabled"`
	Resumable bool `json:"resumable"`
	// Handled is our h: the stanzas received from the server, modulo 2^32.
	Handled uint32 `json:"handled"`
	// Sent counts the stanzas sent; Acked is the server's last h. Both modulo 2^32.
	Sent  uint32 `json:"sent"`
	Acked uint32 `json:"acked"`
	// Unacked holds the Sent-Acked stanzas not acknowledged yet, oldest first.
	Unacked [][]byte `json:"unacked,omitempty"`
}

// Info returns a copy of the state.
func (st *State) Info() Info {
	st.mu.Lock()
	defer st.mu.Unlock()
	in := Info{
		ID: st.id, Location: st.location, Max: st.max, Enabled: st.enabled, Resumable: st.resumable,
		Handled: st.handled, Sent: st.sent, Acked: st.acked, Unacked: cloneFrames(st.unacked),
	}
	if !st.jid.Equal(jid.JID{}) {
		in.JID = st.jid.String()
	}
	return in
}

// Restore returns a State that continues the session in info: Resume it on a new connection.
func Restore(info Info, opts Options) (*State, error) {
	j, err := jid.Parse(info.JID)
	if err != nil || j.Resourcepart() == "" {
		return nil, fmt.Errorf("sm: restore: %q is not a full JID", info.JID)
	}
	if n := info.Sent - info.Acked; int64(n) != int64(len(info.Unacked)) {
		return nil, fmt.Errorf("sm: restore: %d stanzas sent and unacknowledged but %d kept", n, len(info.Unacked))
	}
	st := New(opts)
	st.jid, st.id, st.location, st.max = j, info.ID, info.Location, info.Max
	st.enabled, st.resumable = info.Enabled, info.Resumable && info.ID != ""
	st.handled, st.sent, st.acked = info.Handled, info.Sent, info.Acked
	st.unacked = cloneFrames(info.Unacked)
	return st, nil
}

// Resumable reports whether the session can be resumed after its connection drops.
func (st *State) Resumable() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.resumable
}

// RequestAck asks the server at once how many of our stanzas it has handled; the answer
// arrives asynchronously (Options.Acked, Info).
func (st *State) RequestAck() error {
	st.mu.Lock()
	c := st.conn
	ok := c != nil && st.countOut
	if ok {
		st.noteRequestLocked()
	}
	st.mu.Unlock()
	if !ok {
		return ErrNotEnabled
	}
	if err := c.WriteFrame(requestFrame); err != nil {
		return fmt.Errorf("sm: request ack: %w", err)
	}
	return nil
}

// SetIdle says whether the user is idle (XEP-0352 inactive). While idle, the periodic ack
// request is left out when every stanza sent has been acknowledged: servers that hold back
// stanzas for an inactive client flush them on any byte from it, so a request every
// AckInterval would defeat the holding. Requests after sending, and the AckTimeout check of a
// request already out, go on as usual. The setting outlives connections.
func (st *State) SetIdle(idle bool) {
	st.mu.Lock()
	st.idle = idle
	st.mu.Unlock()
}

func (st *State) noteRequestLocked() {
	st.requested = st.sent
	if st.waiting.IsZero() {
		st.waiting = time.Now()
	}
}

// attach makes c the connection counted on, with counting off until enabled or resumed, and
// drops the previous one: whatever it still carries belongs to a stream that is over.
func (st *State) attach(c *xmppws.Conn) {
	st.mu.Lock()
	old := st.conn
	st.conn, st.kick = c, make(chan struct{}, 1)
	st.countIn, st.countOut = false, false
	st.requested, st.waiting = st.sent, time.Time{}
	st.mu.Unlock()
	if old != nil && old != c {
		_ = old.CloseNow()
	}
	c.SetHooks(xmppws.Hooks{
		Received:   func(frame []byte) (bool, error) { return st.received(c, frame) },
		Sending:    func(frame []byte) { st.sending(c, frame) },
		SendFailed: func(frame []byte) { st.sendFailed(c, frame) },
	})
}

// sending queues an outbound stanza before it is written, so that an ack racing the write
// always finds it.
func (st *State) sending(c *xmppws.Conn, frame []byte) {
	if classify(frame) != kindStanza {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.conn != c || !st.countOut {
		return
	}
	st.unacked = append(st.unacked, bytes.Clone(frame))
	st.sent++
	select {
	case st.kick <- struct{}{}:
	default: // a request is already due
	}
}

// sendFailed takes back a stanza whose write failed: it never left, and the caller, told by the
// error, owns it again. Resending it as well would duplicate it.
func (st *State) sendFailed(c *xmppws.Conn, frame []byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	// Writes are serialized, so a stanza that failed is the last queued, unless it was not
	// counted at all or an ack already took it.
	if n := len(st.unacked); st.conn == c && n > 0 && bytes.Equal(st.unacked[n-1], frame) {
		st.unacked[n-1] = nil
		st.unacked = st.unacked[:n-1]
		st.sent--
	}
}

// received counts inbound stanzas and consumes acks and ack requests.
func (st *State) received(c *xmppws.Conn, frame []byte) (pass bool, err error) {
	k := classify(frame)
	if k == kindOther {
		return true, nil
	}
	st.mu.Lock()
	if st.conn != c {
		st.mu.Unlock()
		return k != kindRequest && k != kindAck, nil
	}
	switch k {
	case kindStanza:
		if st.countIn {
			st.handled++
		}
		st.mu.Unlock()
		return true, nil
	case kindRequest:
		h, ok := st.handled, st.countIn
		st.mu.Unlock()
		if ok {
			// A failed write means the connection is going; the read side will say so.
			_ = c.WriteFrame(ackFrame(h))
		}
		return false, nil
	}

	start, err := startTag(frame)
	if err != nil {
		st.mu.Unlock()
		return false, fmt.Errorf("sm: malformed %s: %w", frame, err)
	}
	var acked [][]byte
	switch k {
	case kindAck:
		acked, err = st.ackLocked(start, true)
		st.waiting = time.Time{}
	case kindEnabled:
		st.enableLocked(start)
	case kindResumed:
		if acked, err = st.ackLocked(start, true); err == nil {
			st.countIn, st.countOut = true, true
		}
	case kindFailed:
		acked, err = st.ackLocked(start, false)
	}
	st.mu.Unlock()
	if len(acked) > 0 && st.opts.Acked != nil {
		st.opts.Acked(acked)
	}
	return k != kindAck, err
}

// ackLocked drops the stanzas the h attribute of start acknowledges and returns them.
func (st *State) ackLocked(start xml.StartElement, required bool) ([][]byte, error) {
	h, ok, err := parseH(start)
	switch {
	case err != nil:
		return nil, err
	case !ok && required:
		return nil, fmt.Errorf("sm: <%s/> without h", start.Name.Local)
	case !ok:
		return nil, nil
	}
	n := h - st.acked // modulo 2^32, as h is
	if int64(n) > int64(len(st.unacked)) {
		return nil, fmt.Errorf("sm: server acknowledged %d stanzas but only %d were unacknowledged (h=%d, last h=%d)",
			n, len(st.unacked), h, st.acked)
	}
	done := st.unacked[:n:n]
	st.unacked = st.unacked[n:]
	if len(st.unacked) == 0 {
		st.unacked = nil // let the backing array go
	}
	st.acked = h
	return done, nil
}

func (st *State) enableLocked(start xml.StartElement) {
	st.enabled, st.countIn = true, true
	st.id, _ = attr(start, "id")
	st.location, _ = attr(start, "location")
	resume, _ := attr(start, "resume")
	st.resumable = (resume == "true" || resume == "1") && st.id != ""
	st.max = 0
	if v, ok := attr(start, "max"); ok {
		if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
			st.max = time.Duration(secs) * time.Second
		}
	}
}

// reset forgets the session: after a refused resumption only a fresh login is left.
func (st *State) reset() (unacked [][]byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	unacked = st.unacked
	st.conn, st.kick = nil, nil
	st.id, st.location, st.max = "", "", 0
	st.enabled, st.resumable, st.countIn, st.countOut = false, false, false, false
	st.handled, st.sent, st.acked, st.requested = 0, 0, 0, 0
	st.unacked, st.waiting = nil, time.Time{}
	return unacked
}

func cloneFrames(frames [][]byte) [][]byte {
	if len(frames) == 0 {
		return nil
	}
	out := make([][]byte, len(frames))
	for i, f := range frames {
		out[i] = bytes.Clone(f)
	}
	return out
}
