package push

import (
	"context"
	"crypto/sha1" //nolint:gosec // XEP-0114's handshake is defined with SHA-1
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"
)

const (
	nsComponent = "jabber:component:accept"
	nsStream    = "http://etherx.jabber.org/streams"
	nsStanzas   = "urn:ietf:params:xml:ns:xmpp-stanzas"

	// Reconnect backoff: from backoffBase, doubling to backoffCap, with jitter; a connection
	// that lasted stableAfter resets it.
	backoffBase = time.Second
	backoffCap  = time.Minute
	stableAfter = time.Minute
	// keepaliveEvery sends a whitespace ping: a dead connection then fails on write instead of
	// waiting for TCP keepalive to notice.
	keepaliveEvery = 30 * time.Second
	// handshakeTimeout bounds connecting and authenticating.
	handshakeTimeout = 10 * time.Second
	// maxStanza caps what is read of one stanza; publications are a few hundred bytes.
	maxStanza = 64 << 10
)

// runComponent connects, serves and reconnects until ctx ends.
func (s *Service) runComponent(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		start := time.Now()
		err := s.connectAndServe(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > stableAfter {
			attempt = 0
		}
		wait := componentBackoff(attempt)
		s.log.Warn("push component disconnected; reconnecting", "addr", s.cfg.ComponentAddr, "jid", s.component.String(), "err", err, "retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

func componentBackoff(attempt int) time.Duration {
	d := backoffCap
	if attempt < 10 {
		d = min(backoffCap, backoffBase<<attempt)
	}
	return d/2 + rand.N(d/2+1)
}

// componentConn is one authenticated XEP-0114 stream.
type componentConn struct {
	conn net.Conn
	dec  *xml.Decoder
	lr   *io.LimitedReader

	wmu sync.Mutex
}

// write sends one serialized element; concurrent deliveries answer on the same stream.
func (c *componentConn) write(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := io.WriteString(c.conn, s)
	return err
}

// dialComponent connects to addr and authenticates as domain with secret (XEP-0114 §3).
func dialComponent(ctx context.Context, addr, domain, secret string) (*componentConn, error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	c := &componentConn{conn: conn}
	c.lr = &io.LimitedReader{R: conn, N: maxStanza}
	c.dec = xml.NewDecoder(c.lr)
	fail := func(err error) (*componentConn, error) {
		_ = conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("handshake: %w", ctx.Err())
		}
		return nil, err
	}
	if err := c.write(fmt.Sprintf("<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' to='%s'>", nsComponent, nsStream, escape(domain))); err != nil {
		return fail(fmt.Errorf("send stream header: %w", err))
	}
	var id string
	for id == "" {
		tok, err := c.dec.Token()
		if err != nil {
			return fail(fmt.Errorf("read stream header: %w", err))
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Space != nsStream || se.Name.Local != "stream" {
				return fail(fmt.Errorf("server sent <%s> instead of a stream header", se.Name.Local))
			}
			for _, a := range se.Attr {
				if a.Name.Local == "id" {
					id = a.Value
				}
			}
			if id == "" {
				return fail(errors.New("server stream header has no id"))
			}
		}
	}
	sum := sha1.Sum([]byte(id + secret)) //nolint:gosec // mandated by XEP-0114
	if err := c.write("<handshake>" + hex.EncodeToString(sum[:]) + "</handshake>"); err != nil {
		return fail(fmt.Errorf("send handshake: %w", err))
	}
	se, err := c.next()
	if err != nil {
		return fail(fmt.Errorf("read handshake answer: %w", err))
	}
	switch se.Name.Local {
	case "handshake":
		if err := c.dec.Skip(); err != nil {
			return fail(err)
		}
	case "error":
		return fail(fmt.Errorf("server refused the component: %w", c.streamError(se)))
	default:
		return fail(fmt.Errorf("server answered the handshake with <%s>", se.Name.Local))
	}
	return c, nil
}

// next returns the next top-level element's start; the server closing the stream is io.EOF.
func (c *componentConn) next() (xml.StartElement, error) {
	for {
		c.lr.N = maxStanza // the limit is per stanza
		tok, err := c.dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, io.EOF // </stream:stream>
		}
	}
}

// streamError reads a <stream:error/> into an error naming its condition.
func (c *componentConn) streamError(start xml.StartElement) error {
	var se struct {
		Inner []struct {
			XMLName xml.Name
			Text    string `xml:",chardata"`
		} `xml:",any"`
	}
	if err := c.dec.DecodeElement(&se, &start); err != nil {
		return fmt.Errorf("stream error (unreadable: %v)", err)
	}
	var parts []string
	for _, e := range se.Inner {
		parts = append(parts, strings.TrimSpace(e.XMLName.Local+" "+e.Text))
	}
	return fmt.Errorf("stream error: %s", strings.Join(parts, "; "))
}

// connectAndServe runs one connection until it fails or ctx ends.
func (s *Service) connectAndServe(ctx context.Context) error {
	c, err := dialComponent(ctx, s.cfg.ComponentAddr, s.component.String(), s.cfg.ComponentSecret)
	if err != nil {
		return err
	}
	s.connected.Store(true)
	s.log.Info("push component connected", "addr", s.cfg.ComponentAddr, "jid", s.component.String())
	defer s.connected.Store(false)
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	context.AfterFunc(connCtx, func() {
		_ = c.write("</stream:stream>")
		_ = c.conn.Close()
	})
	go func() {
		t := time.NewTicker(keepaliveEvery)
		defer t.Stop()
		for {
			select {
			case <-connCtx.Done():
				return
			case <-t.C:
				if err := c.write(" "); err != nil {
					_ = c.conn.Close()
					return
				}
			}
		}
	}()
	for {
		start, err := c.next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read: %w", err)
		}
		switch {
		case start.Name.Space == nsStream && start.Name.Local == "error":
			return c.streamError(start)
		case start.Name.Local == "iq":
			var iq iqStanza
			if err := c.dec.DecodeElement(&iq, &start); err != nil {
				return fmt.Errorf("read iq: %w", err)
			}
			if reply := s.handleIQ(ctx, &iq); reply != "" {
				if err := c.write(reply); err != nil {
					return fmt.Errorf("write: %w", err)
				}
			}
		default: // messages and presences mean nothing to a push service
			if err := c.dec.Skip(); err != nil {
				return fmt.Errorf("read: %w", err)
			}
		}
	}
}

// escape makes s safe inside an XML attribute or text.
func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
