package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// session is one logged-in benchmark client: the engine's own transport (xmppws) and mellium.
type session struct {
	s        *xmpp.Session
	conn     *xmppws.Conn
	received atomic.Int64 // <message/> stanzas seen by serve
	served   chan error
}

// login dials wsURL and logs in as j with a resource of its own; it does not send presence, so
// the session stays silent unless addressed by its full JID.
func login(ctx context.Context, wsURL string, j jid.JID, password string) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := xmppws.Dial(ctx, wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	s, err := xmppws.Login(ctx, conn, xmppws.LoginConfig{JID: j, Password: password})
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &session{s: s, conn: conn}, nil
}

// serve handles incoming stanzas (IQ results for pings, messages to count) until the stream ends.
func (c *session) serve() {
	c.served = make(chan error, 1)
	go func() {
		c.served <- c.s.Serve(xmpp.HandlerFunc(func(_ xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			if start.Name.Local == "message" {
				c.received.Add(1)
			}
			return nil
		}))
	}()
}

// idle discards whatever arrives, so that WebSocket pings are answered, and nothing else.
func (c *session) idle() { go func() { _, _ = io.Copy(io.Discard, c.conn) }() }

// ping is one XEP-0199 round trip to the server.
func (c *session) ping(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	err := ping.Send(ctx, c.s, c.s.LocalAddr().Domain())
	return time.Since(start), err
}

// send sends one chat message.
func (c *session) send(ctx context.Context, to jid.JID, body string) error {
	msg := stanza.Message{To: to, Type: stanza.ChatMessage}.Wrap(
		xmlstream.Wrap(xmlstream.Token(xml.CharData(body)), xml.StartElement{Name: xml.Name{Local: "body"}}))
	return c.s.Send(ctx, msg)
}

// waitReceived waits until n messages have arrived.
func (c *session) waitReceived(ctx context.Context, n int64) error {
	for c.received.Load() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("received %d of %d messages: %w", c.received.Load(), n, ctx.Err())
		case err := <-c.served:
			return fmt.Errorf("received %d of %d messages, then the stream ended: %v", c.received.Load(), n, err)
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

func (c *session) close() {
	_ = c.s.Close()
	_ = c.conn.Close()
}

// noArchive sets the account's XEP-0313 preference to archive nothing. Prosody's file-backed
// archive gets slower with every stored message, which would make every path measured after
// the first look slower than it is: the benchmark is about the path, not about storage.
func (c *session) noArchive(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	prefs := xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: "urn:xmpp:mam:2", Local: "prefs"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "default"}, Value: "never"}},
	})
	resp, err := c.s.SendIQ(ctx, stanza.IQ{Type: stanza.SetIQ}.Wrap(prefs))
	if err != nil {
		return fmt.Errorf("set archive preferences: %w", err)
	}
	return resp.Close()
}
