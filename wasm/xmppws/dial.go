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
	"net"
	"net/http"
	"sync"

	"github.com/coder/websocket"
)

// Subprotocol is the WebSocket subprotocol of RFC 7395.
const Subprotocol = "xmpp"

// MaxElement is the largest element sent or received, in bytes. Servers commonly cap stanzas at
// 256 KiB (ejabberd's default max_stanza_size); larger ones would be refused anyway.
const MaxElement = 256 << 10

// DialOptions tune Dial. The zero value is fine.
type DialOptions struct {
	// HTTPHeader is sent with the handshake (natively only; browsers control their headers).
	HTTPHeader http.Header
	// HTTPClient performs the handshake (natively only).
	HTTPClient *http.Client
}

// Conn is an XMPP-over-WebSocket connection. Every Write is re-framed so that each WebSocket
// message carries exactly one complete element, and the end of a stream is sent as <close/>.
type Conn struct {
	net.Conn
	ws *websocket.Conn

	wmu sync.Mutex
	f   *framer

	emu     sync.Mutex
	readErr error
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
	ws.SetReadLimit(MaxElement)
	return &Conn{
		Conn: websocket.NetConn(context.Background(), ws, websocket.MessageText),
		ws:   ws,
		f:    newFramer(MaxElement),
	}, nil
}

// Write frames p into whole elements and sends each as one WebSocket message.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.f.write(p, func(elem []byte, head int) error {
		_, err := c.Conn.Write(withClientNS(elem, head))
		return err
	}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Read reads the stream, remembering why it ended.
func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.emu.Lock()
		if c.readErr == nil {
			c.readErr = err
		}
		c.emu.Unlock()
	}
	return n, err
}

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
