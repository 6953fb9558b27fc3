package engine

import (
	"context"
	"encoding/xml"
	"errors"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"
)

// Ping (XEP-0199): we answer pings, and ping the server ourselves when nothing has arrived for
// a while. A lost network often looks like silence rather than an error: a ping that goes
// unanswered proves the connection dead, and dropping it starts the usual reconnect (resume or
// fresh login; the outbox resends what was not acknowledged).

const (
	nsPing = "urn:xmpp:ping"
	// Defaults for Config.KeepaliveInterval and Config.KeepaliveTimeout.
	defaultKeepaliveInterval = 60 * time.Second
	defaultKeepaliveTimeout  = 30 * time.Second
)

// onPingIQ answers a ping with an empty result.
func (e *Engine) onPingIQ(_ context.Context, r iqRequest) (xml.TokenReader, error) {
	if r.Type != stanza.GetIQ {
		return nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.BadRequest}
	}
	return nil, nil
}

// noteReceived records that a stanza arrived: the link is alive.
func (e *Engine) noteReceived() { e.svc.lastRecv.Store(time.Now().UnixNano()) }

// keepaliveTimes returns the configured interval (negative: no keepalive) and timeout.
func (e *Engine) keepaliveTimes() (interval, timeout time.Duration) {
	interval, timeout = e.cfg.KeepaliveInterval, e.cfg.KeepaliveTimeout
	if interval == 0 {
		interval = defaultKeepaliveInterval
	}
	if timeout <= 0 {
		timeout = defaultKeepaliveTimeout
	}
	return interval, timeout
}

// keepalive pings the server over sess whenever nothing has arrived for the keepalive interval
// (inactiveKeepaliveFactor times longer while the server holds stanzas for an inactive client,
// csi.go), until done closes; an unanswered ping drops the connection.
func (e *Engine) keepalive(sess *xmpp.Session, done <-chan struct{}) {
	interval, timeout := e.keepaliveTimes()
	if interval < 0 {
		return
	}
	e.noteReceived()
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		wait := interval
		if e.svc.quiet.Load() {
			wait *= inactiveKeepaliveFactor
		}
		if silent := time.Since(time.Unix(0, e.svc.lastRecv.Load())); silent < wait {
			// Look again within one plain interval, so that becoming active shortens the wait
			// at once (the timer costs no traffic).
			t.Reset(min(wait-silent, interval))
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := ping.Send(ctx, sess, sess.LocalAddr().Domain())
		cancel()
		var se stanza.Error
		if err != nil && !errors.As(err, &se) { // an error answer is still an answer
			select {
			case <-done:
				return // the session ended meanwhile: nothing to drop
			default:
			}
			e.log.Warn("keepalive ping unanswered; dropping the connection", "timeout", timeout, "err", err)
			e.dropConn(sess)
			return
		}
		e.noteReceived()
		t.Reset(interval)
	}
}

// dropConn closes the connection under sess at once, if sess is still the live session: the
// stream's reader then fails and the session goes to reconnecting.
func (e *Engine) dropConn(sess *xmpp.Session) {
	e.mu.Lock()
	conn := e.conn
	live := e.sess == sess
	e.mu.Unlock()
	if live && conn != nil {
		_ = conn.CloseNow()
	}
}
