package sm

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// FailedError is Resume's error when the server cannot resume the session (<failed/>), for
// instance because it was restarted or the session outlived its timeout. The session is gone:
// log in afresh. Unacked are the stanzas the server never acknowledged, oldest first, as
// serialized frames; they may or may not have been delivered, so resend them only where
// duplicates can be recognised (an XEP-0359 origin-id on every message).
type FailedError struct {
	// Condition is the error condition the server gave, e.g. "item-not-found"; empty if none.
	Condition string
	// Unacked holds the stanzas sent but never acknowledged.
	Unacked [][]byte
}

func (e *FailedError) Error() string {
	cond := e.Condition
	if cond == "" {
		cond = "no condition given"
	}
	return fmt.Sprintf("sm: stream resumption failed (%s); %d unacknowledged stanzas handed back", cond, len(e.Unacked))
}

// Login logs in on conn like xmppws.Login and then enables stream management with resumption.
// From then on st counts on conn. A server without stream management, or one that refuses
// to enable it, still gives a working session: st just is not Resumable.
func (st *State) Login(ctx context.Context, conn *xmppws.Conn, cfg xmppws.LoginConfig) (*xmpp.Session, error) {
	if unacked := st.reset(); len(unacked) > 0 {
		st.log.Warn("sm: login drops unacknowledged stanzas of an earlier session", "count", len(unacked))
	}
	st.attach(conn)
	defer cutOnDone(ctx, conn)()
	sess, err := xmppws.Login(ctx, conn, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sm: login: %w (%v)", ctx.Err(), err)
		}
		return nil, err
	}
	st.mu.Lock()
	st.jid = sess.LocalAddr()
	st.mu.Unlock()
	if cfg.NoBind {
		return sess, nil
	}
	if _, ok := sess.Feature(NS); !ok {
		st.log.Info("sm: server does not offer stream management")
		return sess, nil
	}

	// Outbound counting starts with <enable/>, inbound with <enabled/> (in the hook, so not a
	// single stanza after it slips by uncounted).
	st.mu.Lock()
	st.countOut = true
	st.mu.Unlock()
	if err := conn.WriteFrame(enableFrame()); err != nil {
		return nil, fmt.Errorf("sm: enable: %w", err)
	}
	start, cond, err := readReply(ctx, sess)
	if err != nil {
		return nil, fmt.Errorf("sm: enable: %w", err)
	}
	switch start.Name.Local {
	case "enabled":
		info := st.Info()
		st.log.Info("sm: enabled", "id", info.ID, "resumable", info.Resumable, "max", info.Max)
		go st.requestAcks(conn)
	case "failed":
		st.mu.Lock()
		st.countOut = false
		st.mu.Unlock()
		st.log.Warn("sm: server refused to enable stream management", "condition", cond)
	default:
		return nil, fmt.Errorf("sm: enable: unexpected <%s/> in reply", start.Name.Local)
	}
	return sess, nil
}

// Resume authenticates on conn (a new connection; cfg as for Login) and resumes st's session
// instead of binding a new one, then resends, in order, the stanzas the server did not get.
// The old connection is dropped. If the server cannot resume, the error is a *FailedError and
// st is reset for a fresh Login; the caller closes conn. On any other error (network, timeout)
// nothing is lost and Resume can be tried again on another connection.
func (st *State) Resume(ctx context.Context, conn *xmppws.Conn, cfg xmppws.LoginConfig) (*xmpp.Session, error) {
	st.mu.Lock()
	resumable, id, handled, full := st.resumable, st.id, st.handled, st.jid
	st.mu.Unlock()
	if !resumable {
		return nil, &FailedError{Condition: "not-resumable", Unacked: st.reset()}
	}
	st.attach(conn)
	defer cutOnDone(ctx, conn)()

	var failed *FailedError
	feature := xmpp.StreamFeature{
		Name:       xml.Name{Space: NS, Local: "sm"},
		Necessary:  xmpp.Authn,
		Prohibited: xmpp.Ready,
		Parse: func(_ context.Context, d *xml.Decoder, _ *xml.StartElement) (bool, interface{}, error) {
			// Required, so that mellium negotiates it and reports its error.
			return true, nil, d.Skip()
		},
		Negotiate: func(ctx context.Context, sess *xmpp.Session, _ interface{}) (xmpp.SessionState, io.ReadWriter, error) {
			if err := conn.WriteFrame(resumeFrame(id, handled)); err != nil {
				return 0, nil, err
			}
			start, cond, err := readReply(ctx, sess)
			if err != nil {
				return 0, nil, err
			}
			switch start.Name.Local {
			case "resumed":
				// The hook has applied h and turned counting on.
				sess.UpdateAddr(full)
				return xmpp.Ready, nil, nil
			case "failed":
				failed = &FailedError{Condition: cond}
				return 0, nil, failed
			}
			return 0, nil, fmt.Errorf("unexpected <%s/> in reply", start.Name.Local)
		},
	}
	cfg.Resume = &feature
	sess, err := xmppws.Login(ctx, conn, cfg)
	if failed != nil {
		failed.Unacked = st.reset()
		st.log.Info("sm: resumption refused", "condition", failed.Condition, "unacked", len(failed.Unacked))
		return nil, failed
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sm: resume: %w (%v)", ctx.Err(), err)
		}
		return nil, fmt.Errorf("sm: resume: %w", err)
	}

	// Resend what the server did not get. The frames stay queued until acknowledged, so a
	// connection that drops again midway loses nothing: the next Resume sends them once more.
	st.mu.Lock()
	resend := cloneFrames(st.unacked)
	st.mu.Unlock()
	for _, f := range resend {
		if err := conn.WriteFrame(f); err != nil {
			return nil, fmt.Errorf("sm: resend after resumption: %w", err)
		}
	}
	st.log.Info("sm: resumed", "id", id, "resent", len(resend))
	if len(resend) > 0 {
		_ = st.RequestAck()
	}
	go st.requestAcks(conn)
	return sess, nil
}

// cutOnDone drops conn if ctx ends before the returned stop is called: the XMPP library's reads
// do not watch the context, so this is what bounds a negotiation with a silent server.
func cutOnDone(ctx context.Context, conn *xmppws.Conn) (stop func() bool) {
	return context.AfterFunc(ctx, func() { _ = conn.CloseNow() })
}

// readReply reads the element the server answered <enable/> or <resume/> with, and the error
// condition inside it if it is a <failed/>.
func readReply(ctx context.Context, sess *xmpp.Session) (xml.StartElement, string, error) {
	r := sess.TokenReader()
	defer r.Close()
	d := xml.NewTokenDecoder(r)
	for {
		tok, err := d.Token()
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err() // the connection was cut because time ran out
			}
			return xml.StartElement{}, "", err
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue // whitespace between elements
		}
		if start.Name.Space != NS {
			return start, "", fmt.Errorf("expected a stream management reply, got <%s xmlns=%q>", start.Name.Local, start.Name.Space)
		}
		var reply struct {
			Conditions []struct {
				XMLName xml.Name
			} `xml:",any"`
		}
		if err := d.DecodeElement(&reply, &start); err != nil {
			return start, "", err
		}
		var cond string
		for _, c := range reply.Conditions {
			if c.XMLName.Space == stanza.NSError && c.XMLName.Local != "text" {
				cond = c.XMLName.Local
			}
		}
		return start, cond, nil
	}
}

// requestAcks asks for acks on c until it ends: soon after stanzas are sent, and every
// AckInterval (while idle, only if something is unacknowledged). An ack request unanswered for AckTimeout means the connection is dead although
// no error said so (a lost network often looks like silence); it is dropped so the caller
// notices and resumes.
func (st *State) requestAcks(c *xmppws.Conn) {
	st.mu.Lock()
	kick := st.kick
	st.mu.Unlock()
	tick := time.NewTicker(st.opts.AckInterval)
	defer tick.Stop()
	for {
		periodic := false
		select {
		case <-c.Done():
			return
		case <-kick:
		case <-tick.C:
			periodic = true
		}
		st.mu.Lock()
		if st.conn != c {
			st.mu.Unlock()
			return
		}
		if st.opts.AckTimeout > 0 && !st.waiting.IsZero() && time.Since(st.waiting) > st.opts.AckTimeout {
			since := st.waiting
			st.mu.Unlock()
			st.log.Warn("sm: ack request unanswered; dropping the connection", "since", since)
			_ = c.CloseNow()
			return
		}
		if (!periodic && st.requested == st.sent) || (periodic && st.idle && len(st.unacked) == 0) {
			st.mu.Unlock()
			continue
		}
		st.noteRequestLocked()
		st.mu.Unlock()
		if err := c.WriteFrame(requestFrame); err != nil {
			return
		}
	}
}
