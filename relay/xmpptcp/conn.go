// Package xmpptcp connects the relay to an XMPP server over plain TCP (RFC 6120), for servers
// or deployments without a WebSocket endpoint, and translates between that stream and RFC 7395
// WebSocket framing, so that the bridge and the browser only ever see WebSocket messages.
//
// Client messages <open/> and <close/> become the stream header and </stream:stream>; every
// top-level element the server sends becomes one message, carrying the namespace declarations
// it inherited from the stream header (xmlns='jabber:client' on stanzas). TLS is the relay's
// business: xmpps:// is direct TLS (XEP-0368), xmpp:// negotiates STARTTLS itself, so the client
// sees a secure stream whose features never offer STARTTLS. A server certificate is verified
// against the XMPP domain (RFC 7590). xmpp:// without STARTTLS is only accepted on loopback.
package xmpptcp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Defaults for Options.
const (
	// DefaultMaxElement caps one element from the server (a large roster is one element).
	DefaultMaxElement = 1 << 20
	// DefaultHandshakeTimeout bounds STARTTLS, from <starttls/> to the restarted stream.
	DefaultHandshakeTimeout = 10 * time.Second
)

// ErrNoTLS is returned when a server that is not on loopback does not offer STARTTLS.
var ErrNoTLS = errors.New("xmpptcp: the server does not offer STARTTLS and is not on loopback")

// Options configure Dial.
type Options struct {
	// Domain is the XMPP domain; the server's certificate must be valid for it. The URL's host
	// if empty.
	Domain string
	// TLSConfig verifies the server (e.g. RootCAs from a custom CA file); the system roots if
	// nil. Its ServerName is replaced by Domain.
	TLSConfig *tls.Config
	// HandshakeTimeout bounds STARTTLS; DefaultHandshakeTimeout if zero.
	HandshakeTimeout time.Duration
	// MaxElement caps one element from the server, in bytes; DefaultMaxElement if zero.
	MaxElement int
}

// Conn is an XMPP stream over TCP seen as RFC 7395 messages. Read and Write may be called
// concurrently with each other (one reader, any number of writers).
type Conn struct {
	raw     net.Conn // the TCP connection, under any TLS
	tlsConf *tls.Config
	timeout time.Duration

	wmu       sync.Mutex
	w         net.Conn // the current transport: raw or TLS over it
	header    []byte   // the last stream header sent, re-sent after STARTTLS
	opened    bool     // a stream header went out
	closeSent bool     // </stream:stream> went out

	ready chan struct{} // closed once TLS is settled: until then only <open/> may go out
	in    chan []byte   // translated server messages
	done  chan struct{} // closed by Close
	ended chan struct{} // closed when the reader stops

	footer  atomic.Bool // the server ended its stream
	errOnce sync.Once
	rerr    error // why the reader stopped; set before in is closed
	once    sync.Once
}

// Dial connects to an xmpp://host[:port] (STARTTLS, default port 5222) or
// xmpps://host[:port] (direct TLS, default port 5223) URL. ctx bounds the connection and, for
// xmpps, the TLS handshake; the stream itself starts with the first <open/> written.
func Dial(ctx context.Context, rawURL string, opts Options) (*Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("xmpptcp: %w", err)
	}
	port := map[string]string{"xmpp": "5222", "xmpps": "5223"}[u.Scheme]
	if port == "" || u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("xmpptcp: %q: want xmpp://host[:port] or xmpps://host[:port]", rawURL)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.TLSConfig != nil {
		cfg = opts.TLSConfig.Clone()
	}
	cfg.ServerName = opts.Domain
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	c := &Conn{tlsConf: cfg, timeout: opts.HandshakeTimeout, ready: make(chan struct{}),
		in: make(chan []byte, 16), done: make(chan struct{}), ended: make(chan struct{})}
	if c.timeout == 0 {
		c.timeout = DefaultHandshakeTimeout
	}
	limit := opts.MaxElement
	if limit == 0 {
		limit = DefaultMaxElement
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	if c.raw, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr); err != nil {
		return nil, fmt.Errorf("xmpptcp: dial %s: %w", addr, err)
	}
	c.w = c.raw
	secure := false
	if u.Scheme == "xmpps" {
		cfg.NextProtos = []string{"xmpp-client"} // XEP-0368
		tc := tls.Client(c.raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.raw.Close()
			return nil, fmt.Errorf("xmpptcp: TLS with %s: %w", addr, err)
		}
		c.w, secure = tc, true
		close(c.ready)
	}
	go c.readLoop(c.w, newSplitter(limit), secure, isLoopback(u.Hostname()))
	return c, nil
}

// isLoopback reports whether host names this machine, where plaintext cannot be overheard.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NetConn returns the TCP connection under the stream, to cut it without ceremony.
func (c *Conn) NetConn() net.Conn { return c.raw }

// readLoop reads the server's stream, settles TLS on the first features, and queues one
// translated message per header, element and footer.
func (c *Conn) readLoop(r net.Conn, sp *splitter, secure, plainOK bool) {
	defer close(c.ended)
	defer close(c.in)
	var (
		decls nsDecls
		held  []byte // the first <open/>, kept until TLS is settled
	)
	buf := make([]byte, 32<<10)
	for {
		it, err := sp.next()
		if errors.Is(err, errMore) {
			n, rerr := r.Read(buf)
			sp.feed(buf[:n])
			if rerr != nil && n == 0 {
				c.stop(rerr)
				return
			}
			continue
		}
		if err != nil {
			c.stop(err)
			return
		}
		switch it.kind {
		case kindHeader:
			open, d, err := headerToOpen(it.data)
			if err != nil {
				c.stop(err)
				return
			}
			decls = d
			if !secure && held == nil && !c.isReady() {
				held = open
				continue
			}
			if !c.deliver(open) {
				return
			}
		case kindFooter:
			c.footer.Store(true)
			if !c.deliver([]byte(CloseFrame)) {
				return
			}
		case kindElement:
			msg, err := withDecls(it.data, it.head, decls)
			if err != nil {
				c.stop(err)
				return
			}
			if held != nil {
				// The first features decide: STARTTLS, or plaintext where that is safe.
				if offersStartTLS(msg) {
					tc, err := c.startTLS(r, sp)
					if err != nil {
						c.stop(err)
						return
					}
					r, secure, held = tc, true, nil
					close(c.ready)
					continue
				}
				if !plainOK {
					c.stop(ErrNoTLS)
					return
				}
				close(c.ready)
				if !c.deliver(held) {
					return
				}
				held = nil
			}
			// The relay owns TLS: a client must never try STARTTLS through the bridge.
			if !c.deliver(withoutStartTLS(bytes.Clone(msg))) {
				return
			}
		}
	}
}

func (c *Conn) isReady() bool {
	select {
	case <-c.ready:
		return true
	default:
		return false
	}
}

// offersStartTLS reports whether msg is stream features listing <starttls/>.
func offersStartTLS(msg []byte) bool {
	var f struct {
		XMLName  xml.Name
		StartTLS *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-tls starttls"`
	}
	if err := xml.Unmarshal(msg, &f); err != nil {
		return false
	}
	return f.XMLName.Space == NSStream && f.XMLName.Local == "features" && f.StartTLS != nil
}

// withoutStartTLS removes <starttls/> from stream features; other messages pass unchanged.
func withoutStartTLS(msg []byte) []byte {
	if !bytes.Contains(msg, []byte(nsTLS)) {
		return msg
	}
	d := xml.NewDecoder(bytes.NewReader(msg))
	depth := 0
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return msg
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 && (t.Name.Space != NSStream || t.Name.Local != "features") {
				return msg
			}
			if depth == 1 && t.Name.Space == nsTLS && t.Name.Local == "starttls" {
				if d.Skip() != nil {
					return msg
				}
				return append(msg[:off:off], msg[d.InputOffset():]...)
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

// startTLS upgrades the connection (RFC 6120 §5.4) and restarts the stream over TLS with the
// client's header. Client writes wait meanwhile: it holds the write lock.
func (c *Conn) startTLS(r net.Conn, sp *splitter) (net.Conn, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.raw.SetDeadline(time.Now().Add(c.timeout))
	defer c.raw.SetDeadline(time.Time{})
	if _, err := io.WriteString(r, `<starttls xmlns="`+nsTLS+`"/>`); err != nil {
		return nil, fmt.Errorf("xmpptcp: starttls: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		it, err := sp.next()
		if errors.Is(err, errMore) {
			n, rerr := r.Read(buf)
			sp.feed(buf[:n])
			if rerr != nil && n == 0 {
				return nil, fmt.Errorf("xmpptcp: starttls: %w", rerr)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("xmpptcp: starttls: %w", err)
		}
		if it.kind != kindElement {
			return nil, errors.New("xmpptcp: starttls: the server ended the stream")
		}
		t, err := startTag(it.data)
		if err != nil {
			return nil, err
		}
		if t.Name.Local != "proceed" {
			return nil, fmt.Errorf("xmpptcp: starttls: the server answered <%s/>", t.Name.Local)
		}
		break
	}
	tc := tls.Client(c.raw, c.tlsConf)
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("xmpptcp: starttls: %w", err)
	}
	sp.reset()
	c.w = tc
	if _, err := tc.Write(c.header); err != nil {
		return nil, fmt.Errorf("xmpptcp: restart stream over TLS: %w", err)
	}
	return tc, nil
}

// deliver queues msg for Read; false once the Conn is closed.
func (c *Conn) deliver(msg []byte) bool {
	select {
	case c.in <- msg:
		return true
	case <-c.done:
		return false
	}
}

// stop records why reading ended.
func (c *Conn) stop(err error) {
	c.errOnce.Do(func() { c.rerr = err })
}

// Read returns the next message from the server: <open/>, an element, or <close/>. After the
// server ended its stream and closed the connection, the error is a websocket.CloseError with
// status 1000, as an RFC 7395 server's closing handshake would give.
func (c *Conn) Read(ctx context.Context) (websocket.MessageType, []byte, error) {
	select {
	case msg, ok := <-c.in:
		if ok {
			return websocket.MessageText, msg, nil
		}
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
	err := c.readErr()
	c.wmu.Lock()
	ended := c.footer.Load() || c.closeSent
	c.wmu.Unlock()
	if ended && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) {
		return 0, nil, websocket.CloseError{Code: websocket.StatusNormalClosure}
	}
	return 0, nil, fmt.Errorf("xmpptcp: read: %w", err)
}

// readErr is why the reader stopped; call it after ended is closed.
func (c *Conn) readErr() error {
	<-c.ended
	if c.rerr == nil {
		return net.ErrClosed
	}
	return c.rerr
}

// Write sends one client message: <open/> starts the stream, <close/> ends it, anything else
// goes out as it is. Only the first <open/> is sent before TLS is settled; everything else
// waits, so that nothing but the stream header ever crosses the network in plaintext.
func (c *Conn) Write(ctx context.Context, _ websocket.MessageType, msg []byte) error {
	kind, t, err := classify(msg)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	first := !c.opened && kind == msgOpen
	c.wmu.Unlock()
	if !first {
		select {
		case <-c.ready:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return net.ErrClosed
		case <-c.ended:
			return fmt.Errorf("xmpptcp: write: stream ended before TLS was settled: %w", c.readErr())
		}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.w.SetWriteDeadline(dl)
		defer c.w.SetWriteDeadline(time.Time{})
	}
	var out []byte
	switch kind {
	case msgOpen:
		out = openToHeader(t)
		c.header, c.opened, c.closeSent = out, true, false
	case msgClose:
		if !c.opened || c.closeSent {
			return nil
		}
		out, c.closeSent = []byte(streamFooter), true
	default:
		if !c.opened {
			return errors.New("xmpptcp: element before <open/>")
		}
		out = msg
	}
	if _, err := c.w.Write(out); err != nil {
		return fmt.Errorf("xmpptcp: write: %w", err)
	}
	return nil
}

// Close ends the stream, if one is open, and closes the connection. The code and reason are
// those of a WebSocket close and have no TCP equivalent.
func (c *Conn) Close(websocket.StatusCode, string) error {
	var err error
	c.once.Do(func() {
		close(c.done)
		// Bounded: a server that stopped reading, or a STARTTLS in progress, must not hold us.
		_ = c.raw.SetDeadline(time.Now().Add(time.Second))
		c.wmu.Lock()
		if c.opened && !c.closeSent && c.isReady() {
			_, _ = io.WriteString(c.w, streamFooter)
			c.closeSent = true
		}
		c.wmu.Unlock()
		err = c.raw.Close()
	})
	return err
}
