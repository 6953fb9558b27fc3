package xmpptcp

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// NetConn presents c as a byte stream in RFC 7395 framing, for an XMPP library that speaks
// WebSocket framing over a net.Conn (mellium with websocket.Negotiator, as package xmppws
// does): writes are cut into elements and sent one by one, reads return one message at a
// time. Deadlines bound Read and Write.
func NetConn(c *Conn) net.Conn { return &netConn{c: c, sp: newSplitter(0)} }

type netConn struct {
	c *Conn

	wmu sync.Mutex
	sp  *splitter

	rmu  sync.Mutex
	rbuf []byte

	dmu             sync.Mutex
	readDL, writeDL time.Time
}

func (n *netConn) ctx(dl time.Time) (context.Context, context.CancelFunc) {
	if dl.IsZero() {
		return context.WithCancel(context.Background())
	}
	return context.WithDeadline(context.Background(), dl)
}

// Write implements net.Conn.
func (n *netConn) Write(p []byte) (int, error) {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	n.dmu.Lock()
	ctx, cancel := n.ctx(n.writeDL)
	n.dmu.Unlock()
	defer cancel()
	n.sp.feed(p)
	for {
		it, err := n.sp.next()
		if errors.Is(err, errMore) {
			return len(p), nil
		}
		if err != nil {
			return 0, err
		}
		msg := it.data
		switch it.kind {
		case kindFooter: // mellium ends a WebSocket stream with </stream:stream>
			msg = []byte(CloseFrame)
		case kindHeader:
			return 0, errors.New("xmpptcp: stream header in WebSocket framing")
		}
		if err := n.c.Write(ctx, websocket.MessageText, msg); err != nil {
			return 0, err
		}
	}
}

// Read implements net.Conn.
func (n *netConn) Read(p []byte) (int, error) {
	n.rmu.Lock()
	defer n.rmu.Unlock()
	if len(n.rbuf) == 0 {
		n.dmu.Lock()
		ctx, cancel := n.ctx(n.readDL)
		n.dmu.Unlock()
		_, msg, err := n.c.Read(ctx)
		cancel()
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return 0, io.EOF
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return 0, errTimeout{}
			}
			return 0, err
		}
		n.rbuf = msg
	}
	k := copy(p, n.rbuf)
	n.rbuf = n.rbuf[k:]
	return k, nil
}

// Close implements net.Conn.
func (n *netConn) Close() error { return n.c.Close(websocket.StatusNormalClosure, "") }

// LocalAddr implements net.Conn.
func (n *netConn) LocalAddr() net.Addr { return n.c.raw.LocalAddr() }

// RemoteAddr implements net.Conn.
func (n *netConn) RemoteAddr() net.Addr { return n.c.raw.RemoteAddr() }

// SetDeadline implements net.Conn.
func (n *netConn) SetDeadline(t time.Time) error {
	n.dmu.Lock()
	n.readDL, n.writeDL = t, t
	n.dmu.Unlock()
	return nil
}

// SetReadDeadline implements net.Conn.
func (n *netConn) SetReadDeadline(t time.Time) error {
	n.dmu.Lock()
	n.readDL = t
	n.dmu.Unlock()
	return nil
}

// SetWriteDeadline implements net.Conn.
func (n *netConn) SetWriteDeadline(t time.Time) error {
	n.dmu.Lock()
	n.writeDL = t
	n.dmu.Unlock()
	return nil
}

// errTimeout is a net.Error timeout, as a net.Conn reports a passed deadline.
type errTimeout struct{}

func (errTimeout) Error() string   { return "xmpptcp: i/o timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }
