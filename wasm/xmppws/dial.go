// Package xmppws is the XMPP-over-WebSocket (RFC 7395) transport of the SparkWeb engine.
//
// It dials with github.com/coder/websocket, which also runs in the browser, frames output one
// element per WebSocket message, and negotiates a client stream with mellium.im/xmpp, working
// around the parts of mellium v0.22 that do not fit WebSocket (framing, bind, stream close).
// It builds and is tested natively; the relay uses it too, to check passwords upstream.
package xmppws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Subprotocol is the WebSocket subprotocol of RFC 7395.
const Subprotocol = "xmpp"

// MaxElement is the largest element sent, in bytes. Servers commonly cap stanzas at
// 256 KiB (ejabberd's default max_stanza_size); larger ones would be refused anyway.
const MaxElement = 256 << 10

// MaxReceived is the largest element accepted from the server, in bytes: more than MaxElement
// because a server's answers can be large (a roster of 5,000 contacts is about 600 KiB in one
// IQ result), and the same as the relay's upstream limit, which would refuse anything larger.
const MaxReceived = 1 << 20

// DialOptions tune Dial. The zero value is fine.
type DialOptions struct {
	// HTTPHeader is sent with the handshake (natively only; browsers control their headers).
	HTTPHeader http.Header
	// HTTPClient performs the handshake (natively only).
	HTTPClient *http.Client
}

// Conn is an XMPP-over-WebSocket connection. Every Write is re-framed so that each WebSocket
// message carries exactly one complete element, and the end of a stream is sent as <close/>.
// Reads go one WebSocket message, hence one element, at a time, so Hooks can see and filter
// whole elements in both directions.
type Conn struct {
	net.Conn // websocket.NetConn: writes, addresses, write deadlines and the closing handshake
	ws       *websocket.Conn

	wmu sync.Mutex
	f   *framer

	rmu     sync.Mutex
	rbuf    []byte // the rest of the message being read
	rctx    context.Context
	rcancel context.CancelFunc

	hooks atomic.Pointer[Hooks]

	dmu     sync.Mutex
	rtimer  *time.Timer // read deadline
	expired atomic.Bool // the read deadline passed

	emu     sync.Mutex
	readErr error // first error a read met, as the WebSocket reported it
	rerr    error // error every later Read returns
	done    chan struct{}
	closed  bool
}

// Hooks observe the elements that cross a Conn, one whole element per call. Stream management
// (package sm) uses them to count stanzas and to answer ack requests below the XMPP library.
type Hooks struct {
	// Received is called with every element read, in order, on the reading goroutine, before
	// the XMPP stream reader sees it. It returns whether to pass the element on; an error
	// ends the stream: this and every later Read return it.
	Received func(elem []byte) (pass bool, err error)
	// Sending is called with every element Write is about to send, exactly as it will go
	// out, in order and under the write lock, so it must not write to the Conn itself.
	// elem is only valid during the call. WriteFrame does not call it.
	Sending func(elem []byte)
	// SendFailed is called, still under the write lock, when the element Sending has just
	// seen could not be sent: the connection is broken and Write returns the error.
	SendFailed func(elem []byte)
}

// Dial opens an RFC 7395 WebSocket to url and returns a net.Conn (a *Conn) for an XMPP session.
// ctx bounds only the handshake; the connection lives until Close.
func Dial(ctx context.Context, url string, opts *DialOptions) (*Conn, error) {
	ws, resp, err := websocket.Dial(ctx, url, wsDialOptions(opts))
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, &HandshakeError{Status: resp.StatusCode, Err: err}
		}
		return nil, fmt.Errorf("xmppws: dial: %w", err)
	}
	if ws.Subprotocol() != Subprotocol {
		_ = ws.Close(websocket.StatusProtocolError, "xmpp subprotocol required")
		return nil, fmt.Errorf("xmppws: server did not accept the %q subprotocol", Subprotocol)
	}
	c := &Conn{
		Conn: websocket.NetConn(context.Background(), ws, websocket.MessageText),
		ws:   ws,
		f:    newFramer(MaxElement),
		done: make(chan struct{}),
	}
	// After NetConn, which lifts the limit.
	ws.SetReadLimit(MaxReceived)
	c.rctx, c.rcancel = context.WithCancel(context.Background())
	return c, nil
}

// SetHooks installs h. Set them before the elements they must see cross the Conn, usually
// before the session is negotiated; a zero Hooks removes them.
func (c *Conn) SetHooks(h Hooks) { c.hooks.Store(&h) }

// Write frames p into whole elements and sends each as one WebSocket message.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	h := c.hooks.Load()
	if err := c.f.write(p, func(elem []byte, head int) error {
		elem = withClientNS(elem, head)
		if h != nil && h.Sending != nil {
			h.Sending(elem)
		}
		_, err := c.Conn.Write(elem)
		if err != nil && h != nil && h.SendFailed != nil {
			h.SendFailed(elem)
		}
		return err
	}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteFrame sends elem, which must be one complete element, as one WebSocket message. It goes
// out between the elements Write sends, bypassing re-framing and the Sending hook: it is for
// elements below the XMPP session, such as stream management acks and resent stanzas.
func (c *Conn) WriteFrame(elem []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.Conn.Write(elem); err != nil {
		return fmt.Errorf("xmppws: write: %w", err)
	}
	return nil
}

// Read reads the stream one WebSocket message at a time, remembering why it ended.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.rbuf) == 0 {
		if err := c.stickyErr(); err != nil {
			return 0, err
		}
		typ, msg, err := c.ws.Read(c.rctx)
		if err != nil {
			return 0, c.fail(err, err)
		}
		if typ != websocket.MessageText {
			err := errors.New("xmppws: binary message received; RFC 7395 frames are text")
			_ = c.ws.Close(websocket.StatusUnsupportedData, "text frames only")
			return 0, c.fail(err, err)
		}
		if h := c.hooks.Load(); h != nil && h.Received != nil {
			pass, err := h.Received(msg)
			if err != nil {
				return 0, c.fail(nil, err)
			}
			if !pass {
				continue
			}
		}
		c.rbuf = msg
	}
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	return n, nil
}

func (c *Conn) stickyErr() error {
	c.emu.Lock()
	defer c.emu.Unlock()
	return c.rerr
}

// fail records why reading stopped (wsErr as the WebSocket said it, if it did) and returns the
// error Read reports from now on: io.EOF for a normal close, as io.Reader users expect.
func (c *Conn) fail(wsErr, err error) error {
	switch {
	case wsErr == nil:
	case websocket.CloseStatus(wsErr) == websocket.StatusNormalClosure,
		websocket.CloseStatus(wsErr) == websocket.StatusGoingAway:
		err = io.EOF
	case c.expired.Load():
		err = fmt.Errorf("xmppws: read: %w", os.ErrDeadlineExceeded)
	default:
		err = fmt.Errorf("xmppws: read: %w", wsErr)
	}
	c.emu.Lock()
	if c.readErr == nil {
		c.readErr = wsErr
	}
	if c.rerr == nil {
		c.rerr = err
	}
	c.emu.Unlock()
	c.markDone()
	return err
}

func (c *Conn) markDone() {
	c.emu.Lock()
	defer c.emu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.done)
	}
}

// Done is closed once the connection is closed or a read has failed: the stream is over.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close ends the connection with a WebSocket closing handshake.
func (c *Conn) Close() error {
	c.markDone()
	c.stopDeadline()
	return c.Conn.Close()
}

// CloseNow drops the connection at once, without a closing handshake or <close/>: to the
// server it looks like a lost network, so it keeps an XEP-0198 session for resumption.
func (c *Conn) CloseNow() error {
	c.markDone()
	c.stopDeadline()
	return c.ws.CloseNow()
}

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	_ = c.Conn.SetWriteDeadline(t)
	return c.SetReadDeadline(t)
}

// SetReadDeadline sets when reads give up. As with websocket.NetConn, a deadline that passes
// while a read waits closes the connection; one that passes between reads fails later reads.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if c.rtimer != nil {
		c.rtimer.Stop()
		c.rtimer = nil
	}
	if !t.IsZero() {
		c.rtimer = time.AfterFunc(time.Until(t), func() {
			c.expired.Store(true)
			c.rcancel()
		})
	}
	return nil
}

func (c *Conn) stopDeadline() { _ = c.SetReadDeadline(time.Time{}) }

// CloseStatus is the WebSocket close code the peer ended the connection with, or -1 if it has
// not closed it with one. The relay reports an unreachable XMPP server with 1014 (bad gateway).
func (c *Conn) CloseStatus() websocket.StatusCode {
	c.emu.Lock()
	defer c.emu.Unlock()
	return websocket.CloseStatus(c.readErr)
}

// CloseReason is the reason text of the peer's close frame, if any.
func (c *Conn) CloseReason() string {
	c.emu.Lock()
	defer c.emu.Unlock()
	var ce websocket.CloseError
	if errors.As(c.readErr, &ce) {
		return ce.Reason
	}
	return ""
}

// HandshakeError is returned by Dial when the server answered the upgrade with an HTTP error,
// such as 401 for a missing or bad relay token.
type HandshakeError struct {
	Status int
	Err    error
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("xmppws: handshake refused with HTTP %d: %v", e.Status, e.Err)
}

func (e *HandshakeError) Unwrap() error { return e.Err }
