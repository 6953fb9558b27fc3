package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/auth"
)

// echoUpstream is a WebSocket server standing in for the XMPP server where the test is about
// the bridge's copying, not about XMPP: it echoes every message with its type, and on a text
// message "close CODE REASON" closes with that code. The XMPP path is tested against Prosody
// in relay/server.
type echoUpstream struct {
	*httptest.Server
	mu      sync.Mutex
	headers []http.Header
	closed  chan websocket.CloseError // how the bridge closed the upstream side
	first   string                    // sent to the client as soon as it connects
	pings   atomic.Int64              // WebSocket pings received from the bridge
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	t.Helper()
	u := &echoUpstream{closed: make(chan websocket.CloseError, 16)}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.headers = append(u.headers, r.Header.Clone())
		u.mu.Unlock()
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"xmpp"},
			OnPingReceived: func(context.Context, []byte) bool { u.pings.Add(1); return true }})
		if err != nil {
			return
		}
		c.SetReadLimit(1 << 20)
		ctx := context.Background()
		if u.first != "" {
			_ = c.Write(ctx, websocket.MessageText, []byte(u.first))
		}
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				var ce websocket.CloseError
				errors.As(err, &ce)
				u.closed <- ce
				return
			}
			if f := strings.Fields(string(msg)); typ == websocket.MessageText && len(f) == 3 && f[0] == "close" {
				code, _ := strconv.Atoi(f[1])
				_ = c.Close(websocket.StatusCode(code), f[2])
				return
			}
			if err := c.Write(ctx, typ, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *echoUpstream) wsURL() string { return "ws" + strings.TrimPrefix(u.URL, "http") }

func (u *echoUpstream) lastHeader() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.headers) == 0 {
		return nil
	}
	return u.headers[len(u.headers)-1]
}

type fixture struct {
	relay   *httptest.Server
	handler *Handler
	auth    *auth.Authority
	token   string
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newFixture(t *testing.T, ctx context.Context, upstream string, mod func(*Options), tls bool) *fixture {
	t.Helper()
	a, err := auth.NewAuthority(auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Verifier: a, Upstream: upstream, Logger: quietLogger(), DialTimeout: 2 * time.Second}
	if mod != nil {
		mod(&opts)
	}
	h, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{auth: a, handler: h}
	if tls {
		f.relay = httptest.NewTLSServer(h)
	} else {
		f.relay = httptest.NewServer(h)
	}
	t.Cleanup(f.relay.Close)
	tok, err := a.Mint(jid.MustParse("alice@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	f.token = tok.Raw
	return f
}

func (f *fixture) url(token string) string {
	u := "ws" + strings.TrimPrefix(f.relay.URL, "http")
	if token != "" {
		u += "?access_token=" + token
	}
	return u
}

func (f *fixture) dial(t *testing.T, hdr http.Header) *websocket.Conn {
	t.Helper()
	return f.dialWith(t, &websocket.DialOptions{HTTPHeader: hdr})
}

// dialWith connects with opts, to which it adds the subprotocol and the relay's HTTP client.
func (f *fixture) dialWith(t *testing.T, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opts.Subprotocols, opts.HTTPClient = []string{"xmpp"}, f.relay.Client()
	c, resp, err := websocket.Dial(ctx, f.url(f.token), opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func TestRefusals(t *testing.T) {
	up := newEchoUpstream(t)
	f := newFixture(t, context.Background(), up.wsURL(), func(o *Options) {
		o.AllowedOrigins = []string{"https://app.example.com"}
	}, false)
	expired, err := auth.NewAuthority(auth.Options{Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	oldTok, _ := expired.Mint(jid.MustParse("alice@example.org"))

	upgrade := http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
	tests := []struct {
		name     string
		method   string
		token    string
		protocol string
		origin   string
		status   int
		code     string
	}{
		{"no token", "GET", "", "xmpp", "", 401, "invalid_token"},
		{"garbage token", "GET", "abc.def.ghi", "xmpp", "", 401, "invalid_token"},
		{"token of another relay", "GET", oldTok.Raw, "xmpp", "", 401, "invalid_token"},
		{"no subprotocol", "GET", f.token, "", "", 400, "invalid_request"},
		{"other subprotocol", "GET", f.token, "mqtt, xmpp-ish", "", 400, "invalid_request"},
		{"foreign origin", "GET", f.token, "xmpp", "https://evil.example", 403, "access_denied"},
		{"allowed host, other scheme port", "GET", f.token, "xmpp", "https://app.example.com:8443", 403, "access_denied"},
		{"opaque origin", "GET", f.token, "xmpp", "null", 403, "access_denied"},
		{"POST", "POST", f.token, "xmpp", "", 405, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := f.relay.URL
			if tc.token != "" {
				target += "?access_token=" + tc.token
			}
			req, _ := http.NewRequest(tc.method, target, nil)
			req.Header = upgrade.Clone()
			if tc.protocol != "" {
				req.Header.Set("Sec-WebSocket-Protocol", tc.protocol)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := f.relay.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			var e auth.Error
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if e.Code != tc.code || e.Description == "" {
				t.Errorf("error %+v, want code %q", e, tc.code)
			}
		})
	}
	if len(up.headers) != 0 {
		t.Errorf("upstream was dialled %d times for refused requests", len(up.headers))
	}
}

func TestAllowedOrigins(t *testing.T) {
	up := newEchoUpstream(t)
	f := newFixture(t, context.Background(), up.wsURL(), func(o *Options) {
		o.AllowedOrigins = []string{"https://App.Example.com:443"}
	}, false)
	tests := []struct {
		name, origin string
	}{
		{"no origin (non-browser)", ""},
		{"relay's own origin", f.relay.URL},
		{"configured origin", "https://app.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			c := f.dial(t, hdr)
			roundTrip(t, c, websocket.MessageText, "<iq/>")
			c.Close(websocket.StatusNormalClosure, "")
		})
	}
}

func roundTrip(t *testing.T, c *websocket.Conn, typ websocket.MessageType, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, typ, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	gotTyp, got, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if gotTyp != typ || string(got) != msg {
		t.Errorf("echo: %v %q, want %v %q", gotTyp, got, typ, msg)
	}
}

func TestCopyAndClosePropagation(t *testing.T) {
	up := newEchoUpstream(t)
	f := newFixture(t, context.Background(), up.wsURL(), nil, false)

	t.Run("message types kept", func(t *testing.T) {
		c := f.dial(t, nil)
		roundTrip(t, c, websocket.MessageText, `<message xmlns="jabber:client"><body>héllo</body></message>`)
		roundTrip(t, c, websocket.MessageBinary, "\x00\x01\x02")
		roundTrip(t, c, websocket.MessageText, strings.Repeat("x", 200<<10))
		c.Close(websocket.StatusNormalClosure, "")
		<-up.closed
	})
	t.Run("client close reaches upstream", func(t *testing.T) {
		c := f.dial(t, nil)
		roundTrip(t, c, websocket.MessageText, "<presence/>")
		if err := c.Close(4001, "bye from client"); err != nil {
			t.Fatalf("close: %v", err)
		}
		select {
		case ce := <-up.closed:
			if ce.Code != 4001 || ce.Reason != "bye from client" {
				t.Errorf("upstream saw close %v %q", ce.Code, ce.Reason)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("upstream never saw the close")
		}
	})
	t.Run("upstream close reaches client", func(t *testing.T) {
		c := f.dial(t, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Write(ctx, websocket.MessageText, []byte("close 4002 server-bye")); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.Read(ctx)
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4002 || ce.Reason != "server-bye" {
			t.Errorf("client read error %v, want close 4002 server-bye", err)
		}
	})
	t.Run("oversized client message", func(t *testing.T) {
		c := f.dial(t, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Write(ctx, websocket.MessageText, []byte(strings.Repeat("x", ClientReadLimit+1)))
		_, _, err := c.Read(ctx)
		if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
			t.Errorf("close %v (%v), want 1009", code, err)
		}
	})
}

func TestForwardedHeaders(t *testing.T) {
	tests := []struct {
		name    string
		tls     bool
		flag    bool
		wantXFP string
	}{
		{"plain", false, false, ""},
		{"flag", false, true, "https"},
		{"TLS client", true, false, "https"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newEchoUpstream(t)
			f := newFixture(t, context.Background(), up.wsURL(), func(o *Options) { o.ForwardedProtoHTTPS = tc.flag }, tc.tls)
			c := f.dial(t, nil)
			roundTrip(t, c, websocket.MessageText, "<r/>")
			h := up.lastHeader()
			if got := h.Get("X-Forwarded-Proto"); got != tc.wantXFP {
				t.Errorf("X-Forwarded-Proto %q, want %q", got, tc.wantXFP)
			}
			if got := h.Get("X-Forwarded-For"); got != "127.0.0.1" {
				t.Errorf("X-Forwarded-For %q", got)
			}
			if got := h.Get("Sec-WebSocket-Protocol"); got != "xmpp" {
				t.Errorf("upstream subprotocol offer %q", got)
			}
			if strings.Contains(h.Get("Authorization")+h.Get("Cookie"), f.token) {
				t.Error("token forwarded upstream")
			}
		})
	}
}

func TestUpstreamUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	f := newFixture(t, context.Background(), "ws://"+addr+"/xmpp-websocket", nil, false)
	c := f.dial(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err = c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusBadGateway || ce.Reason != "upstream unreachable" {
		t.Errorf("read error %v, want close 1014 upstream unreachable", err)
	}
}

func TestShutdownClosesBridges(t *testing.T) {
	up := newEchoUpstream(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFixture(t, ctx, up.wsURL(), nil, false)
	c := f.dial(t, nil)
	roundTrip(t, c, websocket.MessageText, "<r/>")
	cancel()
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	_, _, err := c.Read(rctx)
	if code := websocket.CloseStatus(err); code != StatusServiceRestart {
		t.Errorf("client saw %v (%v), want 1012", code, err)
	}
	select {
	case ce := <-up.closed:
		if ce.Code != StatusServiceRestart {
			t.Errorf("upstream saw %v", ce.Code)
		}
	case <-time.After(5 * time.Second):
		t.Error("upstream never closed")
	}
}

// TestShutdownDrains: Shutdown tells every client to reconnect (1012), waits for the bridges to
// end, and refuses new ones with 503 while draining.
func TestShutdownDrains(t *testing.T) {
	up := newEchoUpstream(t)
	var h *Handler
	f := newFixture(t, context.Background(), up.wsURL(), nil, false)
	h = f.handler
	clients := []*websocket.Conn{f.dial(t, nil), f.dial(t, nil)}
	for _, c := range clients {
		roundTrip(t, c, websocket.MessageText, "<r/>")
	}
	if n := h.Stats().Open.Load(); n != 2 {
		t.Fatalf("open bridges %d, want 2", n)
	}
	codes := make(chan websocket.StatusCode, len(clients))
	for _, c := range clients {
		go func() {
			_, _, err := c.Read(context.Background())
			codes <- websocket.CloseStatus(err)
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if n := h.Stats().Open.Load(); n != 0 {
		t.Errorf("%d bridges still open after Shutdown returned", n)
	}
	for range clients {
		if code := <-codes; code != StatusServiceRestart {
			t.Errorf("client close %v, want 1012", code)
		}
	}
	assertRefused(t, f, f.token, http.StatusServiceUnavailable, "temporarily_unavailable")
}

// TestShutdownDeadline: a client that never answers the close handshake does not hold the
// relay past the drain deadline.
func TestShutdownDeadline(t *testing.T) {
	up := newEchoUpstream(t)
	f := newFixture(t, context.Background(), up.wsURL(), func(o *Options) { o.PingInterval = -1 }, false)
	c := f.dial(t, nil)
	roundTrip(t, c, websocket.MessageText, "<r/>")
	// c is never read again, so the client never answers the relay's close frame; coder/websocket
	// waits up to 5 s for it. The deadline must cut that short.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := f.handler.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown error %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	waitFor(t, func() bool { return f.handler.Stats().Open.Load() == 0 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// assertRefused makes one upgrade request with token and checks the JSON refusal.
func assertRefused(t *testing.T, f *fixture, token string, status int, code string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, f.url(token), &websocket.DialOptions{Subprotocols: []string{"xmpp"}, HTTPClient: f.relay.Client()})
	if err == nil {
		c.CloseNow()
		t.Fatalf("connection accepted, want HTTP %d %s", status, code)
	}
	if resp == nil {
		t.Fatalf("no HTTP response: %v", err)
	}
	defer resp.Body.Close()
	var e auth.Error
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != status || e.Code != code || e.Description == "" {
		t.Fatalf("HTTP %d %+v, want %d %q with a description", resp.StatusCode, e, status, code)
	}
}

func TestConnectionCaps(t *testing.T) {
	up := newEchoUpstream(t)
	t.Run("per JID", func(t *testing.T) {
		f := newFixture(t, context.Background(), up.wsURL(), func(o *Options) { o.MaxConnsPerJID = 2 }, false)
		a := f.dial(t, nil)
		f.dial(t, nil)
		assertRefused(t, f, f.token, http.StatusTooManyRequests, "too_many_connections")
		// Another user is not affected by alice's cap.
		bob, _ := f.auth.Mint(jid.MustParse("bob@example.org"))
		other := *f
		other.token = bob.Raw
		roundTrip(t, other.dial(t, nil), websocket.MessageText, "<r/>")
		// A closed bridge frees its slot.
		a.Close(websocket.StatusNormalClosure, "")
		waitFor(t, func() bool { return f.handler.perJID.Count("alice@example.org") < 2 })
		roundTrip(t, f.dial(t, nil), websocket.MessageText, "<r/>")
	})
	t.Run("per IP", func(t *testing.T) {
		f := newFixture(t, context.Background(), up.wsURL(), func(o *Options) { o.MaxConnsPerIP = 1 }, false)
		f.dial(t, nil)
		bob, _ := f.auth.Mint(jid.MustParse("bob@example.org"))
		assertRefused(t, f, bob.Raw, http.StatusTooManyRequests, "too_many_connections")
		if n, _ := f.handler.Stats().Refused.Load("ip_cap"); n == nil {
			t.Error("refusal not counted")
		}
	})
}

func TestMarkupDeclarationsRefused(t *testing.T) {
	up := newEchoUpstream(t)
	f := newFixture(t, context.Background(), up.wsURL(), nil, false)
	tests := []struct {
		name string
		msgs []string
	}{
		{"doctype", []string{`<!DOCTYPE open [<!ENTITY a "aaaa">]><open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.org" version="1.0"/>`}},
		{"entity in stanza", []string{`<message xmlns="jabber:client"><!ENTITY x SYSTEM "file:///etc/passwd"></message>`}},
		{"comment", []string{`<presence xmlns="jabber:client"><!-- hi --></presence>`}},
		{"split across messages", []string{`<message xmlns="jabber:client"><body>x</body></message><`, `!DOCTYPE x>`}},
		{"after CDATA", []string{`<message xmlns="jabber:client"><body><![CDATA[<!fine]]></body></message>`, `<!DOCTYPE x>`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := f.dial(t, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for _, m := range tc.msgs {
				if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
					break
				}
			}
			// Echoes of the harmless leading messages may come first; then the close.
			for {
				_, msg, err := c.Read(ctx)
				if err != nil {
					var ce websocket.CloseError
					if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "DOCTYPE") {
						t.Errorf("read error %v, want close 1008 naming DOCTYPE", err)
					}
					return
				}
				if strings.Contains(string(msg), "<!D") || strings.Contains(string(msg), "<!E") || strings.Contains(string(msg), "<!-") {
					t.Fatalf("declaration reached the server: %q", msg)
				}
			}
		})
	}
}

func TestXMLGuard(t *testing.T) {
	tests := []struct {
		name    string
		msgs    []string
		wantErr bool
	}{
		{"plain stanza", []string{`<message xmlns="jabber:client"><body>a &lt;!DOCTYPE&gt; b</body></message>`}, false},
		{"cdata", []string{`<body><![CDATA[<!DOCTYPE x> <!-- ]]></body>`}, false},
		{"cdata across messages", []string{`<body><![CDATA[ a <!`, `DOCTYPE ]`, `]><!ENTITY>`}, true},
		{"cdata open split", []string{`<body><![CD`, `ATA[<!x]]></body>`}, false},
		{"doctype", []string{`<!DOCTYPE x>`}, true},
		{"split bang", []string{`<a/><`, `!ENTITY x "y">`}, true},
		{"lt then element", []string{`<a/><`, `b/>`}, false},
		{"comment", []string{`<a><!--x--></a>`}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := &xmlGuard{}
			var err error
			for _, m := range tc.msgs {
				if err = g.check(websocket.MessageText, []byte(m)); err != nil {
					break
				}
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("error %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// FuzzXMLGuard checks that splitting a stream into messages never changes the verdict: a
// declaration cannot be smuggled past the guard by cutting it in two.
func FuzzXMLGuard(f *testing.F) {
	f.Add([]byte(`<a><![CDATA[<!x]]><!DOCTYPE y></a>`), uint(12))
	f.Add([]byte(`<message><body>hi</body></message>`), uint(3))
	f.Add([]byte(`<![CDATA[ ]]]><!-- -->`), uint(9))
	f.Fuzz(func(t *testing.T, data []byte, cut uint) {
		whole := (&xmlGuard{}).check(websocket.MessageText, data)
		i := int(cut % uint(len(data)+1))
		g := &xmlGuard{}
		split := g.check(websocket.MessageText, data[:i])
		if split == nil {
			split = g.check(websocket.MessageText, data[i:])
		}
		if (whole == nil) != (split == nil) {
			t.Fatalf("whole: %v, split at %d: %v", whole, i, split)
		}
	})
}

func TestKeepalive(t *testing.T) {
	t.Run("client that does not answer pings", func(t *testing.T) {
		up := newEchoUpstream(t)
		f := newFixture(t, context.Background(), up.wsURL(), func(o *Options) { o.PingInterval = 100 * time.Millisecond }, false)
		c := f.dial(t, nil)
		roundTrip(t, c, websocket.MessageText, "<r/>")
		// From here c is never read, so coder/websocket never answers the relay's pings.
		select {
		case ce := <-up.closed:
			if ce.Code != websocket.StatusGoingAway || ce.Reason != "client did not answer ping" {
				t.Errorf("upstream saw close %v %q", ce.Code, ce.Reason)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("dead client not detected")
		}
	})
	t.Run("live client survives pings", func(t *testing.T) {
		up := newEchoUpstream(t)
		f := newFixture(t, context.Background(), up.wsURL(), func(o *Options) { o.PingInterval = 50 * time.Millisecond }, false)
		var clientPings atomic.Int64
		c := f.dialWith(t, &websocket.DialOptions{OnPingReceived: func(context.Context, []byte) bool { clientPings.Add(1); return true }})
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		defer cancel()
		// Reading answers the pings; only the test's own deadline ends the read.
		_, _, err := c.Read(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("read: %v, want only the test deadline", err)
		}
		if clientPings.Load() == 0 {
			t.Error("the client was never pinged")
		}
		// Servers take any byte from the client for activity, ending client state indication
		// (XEP-0352): the server side must stay quiet.
		if n := up.pings.Load(); n != 0 {
			t.Errorf("the upstream got %d pings, want none", n)
		}
	})
	t.Run("idle timeout", func(t *testing.T) {
		up := newEchoUpstream(t)
		f := newFixture(t, context.Background(), up.wsURL(), func(o *Options) {
			o.PingInterval, o.IdleTimeout = -1, 200*time.Millisecond
		}, false)
		c := f.dial(t, nil)
		roundTrip(t, c, websocket.MessageText, "<r/>")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _, err := c.Read(ctx)
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "idle timeout" {
			t.Errorf("read error %v, want close 1001 idle timeout", err)
		}
	})
}

func TestBindToOtherJIDIsCut(t *testing.T) {
	up := newEchoUpstream(t)
	up.first = `<iq xmlns="jabber:client" type="result" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>mallory@example.org/x</jid></bind></iq>`
	f := newFixture(t, context.Background(), up.wsURL(), nil, false)
	c := f.dial(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, msg, err := c.Read(ctx)
	if code := websocket.CloseStatus(err); code != websocket.StatusPolicyViolation {
		t.Errorf("got message %q / error %v, want close 1008 before the bind result is delivered", msg, err)
	}
}

func TestBindWatch(t *testing.T) {
	alice := jid.MustParse("alice@example.org")
	tests := []struct {
		name    string
		typ     websocket.MessageType
		msg     string
		wantErr bool
		done    bool
	}{
		{"features", websocket.MessageText, `<stream:features xmlns:stream="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></stream:features>`, false, false},
		{"own JID", websocket.MessageText, `<iq xmlns="jabber:client" type="result" id="1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>Alice@example.org/desk</jid></bind></iq>`, false, true},
		{"other JID", websocket.MessageText, `<iq type="result" id="1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>bob@example.org/desk</jid></bind></iq>`, true, true},
		{"other domain", websocket.MessageText, `<iq type="result" id="1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>alice@evil.example/desk</jid></bind></iq>`, true, true},
		{"bind error", websocket.MessageText, `<iq type="error" id="1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/><error type="cancel"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`, false, false},
		{"binary", websocket.MessageBinary, `<iq type="result"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>bob@example.org/x</jid></bind></iq>`, false, false},
		{"not XML", websocket.MessageText, `urn:ietf:params:xml:ns:xmpp-bind <<<`, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &bindWatch{sub: alice}
			err := w.check(tc.typ, []byte(tc.msg))
			if (err != nil) != tc.wantErr {
				t.Errorf("err %v, want error %v", err, tc.wantErr)
			}
			if w.done != tc.done {
				t.Errorf("done %v, want %v", w.done, tc.done)
			}
		})
	}
	// Once the bind is seen, later messages are not inspected.
	w := &bindWatch{sub: alice, done: true}
	if err := w.check(websocket.MessageText, []byte(`<iq type="result"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>bob@example.org/x</jid></bind></iq>`)); err != nil {
		t.Errorf("checked after done: %v", err)
	}
}

func TestParseOrigin(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"https://chat.example.com", "https://chat.example.com", false},
		{"HTTPS://Chat.Example.com:443/", "https://chat.example.com", false},
		{"http://localhost:3000", "http://localhost:3000", false},
		{"http://[::1]:80", "http://[::1]", false},
		{"chat.example.com", "", true},
		{"ftp://example.com", "", true},
		{"https://example.com/app", "", true},
		{"https://user@example.com", "", true},
		{"https://", "", true},
		{"", "", true},
	}
	for _, tc := range tests {
		got, err := ParseOrigin(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestNewValidates(t *testing.T) {
	a, _ := auth.NewAuthority(auth.Options{})
	tests := []struct {
		name string
		opts Options
	}{
		{"no verifier", Options{Upstream: "ws://x"}},
		{"http upstream", Options{Verifier: a, Upstream: "http://x"}},
		{"bad origin", Options{Verifier: a, Upstream: "ws://x", AllowedOrigins: []string{"example.com"}}},
		{"negative cap", Options{Verifier: a, Upstream: "ws://x", MaxConnsPerIP: -1}},
	}
	for _, tc := range tests {
		if _, err := New(context.Background(), tc.opts); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}
