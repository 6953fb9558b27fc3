package sm_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/sm"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// server is one of the XMPP servers the tests run against.
type server struct {
	name  string
	start func(t testing.TB) *testenv.Server
	// reordersOnResume: ejabberd 23.01 may deliver the stanzas it kept for a dropped connection
	// out of order when the session resumes (seen: b-6 b-7 b-10 b-8 b-9). Nothing is lost or
	// duplicated, and what we resend stays in order; Prosody keeps the order.
	reordersOnResume bool
}

var servers = []server{
	{"prosody", func(t testing.TB) *testenv.Server { return testenv.StartProsody(t, testenv.ProsodyOptions{}) }, false},
	{"ejabberd", func(t testing.TB) *testenv.Server { return testenv.StartEjabberd(t) }, true},
}

// proxy forwards TCP connections to an XMPP server's HTTP port and can lose the network:
// Freeze silently discards everything in both directions (a dead link that nobody notices),
// Cut closes the server's side of every connection (the server notices the drop).
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	links []*link // every connection so far
	up    int64   // bytes forwarded from clients to the server
}

// link is one proxied connection. Freezing is per link: a new connection (a resumption) must
// not thaw the old one, whose unread bytes would then still reach the server.
type link struct {
	server net.Conn
	frozen atomic.Bool
}

func newProxy(t *testing.T, wsURL string) (*proxy, string) {
	t.Helper()
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: u.Host}
	t.Cleanup(func() { _ = ln.Close(); p.Cut() })
	go p.serve()
	u.Host = ln.Addr().String()
	return p, u.String()
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		l := &link{server: s}
		p.mu.Lock()
		p.links = append(p.links, l)
		p.mu.Unlock()
		go p.pipe(l, s, c, &p.up)
		go p.pipe(l, c, s, nil)
	}
}

// Up returns how many bytes clients have sent the server so far.
func (p *proxy) Up() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up
}

func (p *proxy) pipe(l *link, dst, src net.Conn, count *int64) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			frozen := l.frozen.Load()
			if count != nil && !frozen {
				p.mu.Lock()
				*count += int64(n)
				p.mu.Unlock()
			}
			if !frozen {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// Freeze drops every byte of the connections so far; later connections work.
func (p *proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.links {
		l.frozen.Store(true)
	}
}

// Cut closes the server side of every connection so far.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.links {
		_ = l.server.Close()
	}
	p.links = nil
}

// client is one logged-in account that records the message bodies it receives, in order.
type client struct {
	t    testing.TB
	cfg  xmppws.LoginConfig
	url  string
	st   *sm.State // nil for a plain client without stream management
	conn *xmppws.Conn
	sess *xmpp.Session

	mu       sync.Mutex
	bodies   []string
	stanzas  int // stanzas the handler saw
	acked    int // stanzas the server acknowledged (Options.Acked)
	changed  chan struct{}
	serveErr chan error
}

func newClient(t testing.TB, srv *testenv.Server, wsURL, user string, withSM bool, opts sm.Options) *client {
	t.Helper()
	j := jid.MustParse(user + "@" + srv.Domain + "/test")
	c := &client{t: t, url: wsURL, cfg: xmppws.LoginConfig{JID: j, Password: "pw-" + user, AllowPlain: true}, changed: make(chan struct{}, 1)}
	if withSM {
		opts.Acked = func(s [][]byte) {
			c.mu.Lock()
			c.acked += len(s)
			c.mu.Unlock()
			c.notify()
		}
		c.st = sm.New(opts)
	}
	return c
}

func (c *client) notify() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *client) dial(ctx context.Context) *xmppws.Conn {
	c.t.Helper()
	conn, err := xmppws.Dial(ctx, c.url, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = conn.CloseNow() })
	return conn
}

// login logs in (with stream management if the client has a State), serves the session and
// sends initial presence, so the server routes messages to it.
func (c *client) login(ctx context.Context) {
	c.t.Helper()
	conn := c.dial(ctx)
	var sess *xmpp.Session
	var err error
	if c.st != nil {
		sess, err = c.st.Login(ctx, conn, c.cfg)
	} else {
		sess, err = xmppws.Login(ctx, conn, c.cfg)
	}
	if err != nil {
		c.t.Fatalf("login %v: %v", c.cfg.JID, err)
	}
	c.serve(conn, sess)
	if err := sess.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		c.t.Fatalf("presence: %v", err)
	}
}

func (c *client) serve(conn *xmppws.Conn, sess *xmpp.Session) {
	c.conn, c.sess = conn, sess
	done := make(chan error, 1)
	c.serveErr = done
	go func() {
		done <- sess.Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			c.mu.Lock()
			c.stanzas++
			c.mu.Unlock()
			if start.Name.Local != "message" {
				return nil
			}
			var m struct {
				Body string `xml:"body"`
			}
			d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), r))
			if _, err := d.Token(); err != nil {
				return err
			}
			if err := d.DecodeElement(&m, start); err != nil {
				c.t.Errorf("%v: decode message: %v", c.cfg.JID, err)
				return err
			}
			if m.Body != "" {
				c.mu.Lock()
				c.bodies = append(c.bodies, m.Body)
				c.mu.Unlock()
				c.notify()
			}
			return nil
		}))
	}()
}

// send sends a chat message with body to `to` through the current session.
func (c *client) send(ctx context.Context, to jid.JID, body string) error {
	msg := stanza.Message{To: to, Type: stanza.ChatMessage, ID: body}
	return c.sess.Send(ctx, msg.Wrap(xmlstream.Wrap(xmlstream.Token(xml.CharData(body)), xml.StartElement{Name: xml.Name{Local: "body"}})))
}

// waitFor waits until cond holds for the client's records, or fails the test after d.
func (c *client) waitFor(d time.Duration, what string, cond func(c *client) bool) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		c.mu.Lock()
		ok := cond(c)
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-c.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			c.t.Fatalf("%v: timed out waiting for %s (bodies %d, stanzas %d, acked %d)", c.cfg.JID, what, len(c.bodies), c.stanzas, c.acked)
		}
	}
}

func (c *client) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bodies...)
}

// series returns prefix-1 … prefix-n.
func series(prefix string, from, to int) []string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, fmt.Sprintf("%s-%d", prefix, i))
	}
	return s
}

// checkExactlyOnce fails unless got is want, in order: nothing lost, nothing duplicated.
func checkExactlyOnce(t *testing.T, who string, got, want []string) {
	t.Helper()
	checkDelivery(t, who, got, want, true)
}

// checkDelivery fails unless got holds each of want exactly once, and in order if ordered.
func checkDelivery(t *testing.T, who string, got, want []string, ordered bool) {
	t.Helper()
	seen := map[string]int{}
	for _, b := range got {
		seen[b]++
	}
	var lost, dup []string
	for _, w := range want {
		switch seen[w] {
		case 0:
			lost = append(lost, w)
		case 1:
		default:
			dup = append(dup, w)
		}
	}
	inOrder := strings.Join(got, ",") == strings.Join(want, ",")
	if len(lost) == 0 && len(dup) == 0 && len(got) == len(want) && !inOrder && !ordered {
		t.Logf("%s received every message exactly once, out of order: %v", who, got)
		return
	}
	if len(lost) > 0 || len(dup) > 0 || !inOrder {
		t.Errorf("%s received %d messages: lost %v, duplicated %v\n got %v\nwant %v", who, len(got), lost, dup, got, want)
	}
}

// restart stops srv and starts it again in the same directory, so accounts are kept but every
// session is forgotten. It returns the server's new WebSocket URL (ejabberd picks new ports).
func restart(t *testing.T, srv *testenv.Server, name string) string {
	t.Helper()
	srv.Stop(t)
	script, _ := filepath.Abs(filepath.Join("..", "..", "testenv", name+".sh"))
	cmd := exec.Command(script, "start", srv.Dir)
	cmd.Env = cmd.Environ()
	if name == "prosody" {
		// Same ports, so the old URL stays right.
		for _, k := range []string{"PROSODY_C2S_PORT", "PROSODY_HTTP_PORT", "PROSODY_COMPONENT_PORT"} {
			cmd.Env = append(cmd.Env, k+"="+srv.Env[k])
		}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("restart %s: %v", name, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasSuffix(k, "_WS_URL") {
			return v
		}
	}
	t.Fatalf("restart %s: no WebSocket URL in %q", name, out)
	return ""
}
