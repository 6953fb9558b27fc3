// Package bridge connects the engine's WebSocket (RFC 7395) to the XMPP server: to its
// WebSocket endpoint, or to its TCP port through package xmpptcp's framing translation.
//
// The relay does not parse the XMPP stream: it authorizes the connection with a relay JWT,
// then copies WebSocket messages both ways unchanged, keeping their type and propagating the
// close code. It looks inside only where it must: client messages carrying a DOCTYPE or entity
// declaration are refused (RFC 6120 §11.1 forbids them, and they are the way into entity
// expansion attacks on the server), and the resource-binding result is checked so that a token
// for one user cannot carry a session for another. When the relay authenticates the stream
// itself (Options.Credentials), every client message must be one element, stream features
// offer PLAIN alone, and the client's <auth/> is replaced with the relay's credentials.
//
// Abuse limits: concurrent bridges per JID and per client IP, a maximum message size, WebSocket
// pings that find dead peers, and an idle timeout. Every refusal before the upgrade is an HTTP
// status with a JSON body; after it, a close code with a reason.
package bridge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/relay/limit"
	"github.com/sparkweb/sparkweb/relay/xmppauth"
	"github.com/sparkweb/sparkweb/relay/xmpptcp"
)

// Subprotocol is the WebSocket subprotocol of RFC 7395, required on both sides.
const Subprotocol = "xmpp"

// Limits on the bridge.
const (
	// ClientReadLimit is the default cap on one message from the browser; servers refuse
	// larger stanzas anyway.
	ClientReadLimit = 256 << 10
	// UpstreamReadLimit caps one message from the XMPP server (a large roster is one element).
	UpstreamReadLimit = 1 << 20
	// DefaultDialTimeout bounds the upstream WebSocket handshake.
	DefaultDialTimeout = 10 * time.Second
	// DefaultPingInterval is how often the client is pinged.
	DefaultPingInterval = 30 * time.Second
	// DefaultIdleTimeout ends a bridge that carried no message either way for this long.
	DefaultIdleTimeout = time.Hour
	// writeTimeout bounds one forwarded message; a peer that stops reading ends the bridge.
	writeTimeout = time.Minute
)

// Close codes the relay itself sends (RFC 6455 §7.4.1; 1012 is IANA-registered).
const (
	// StatusServiceRestart (1012) tells the client to reconnect: the relay is restarting.
	StatusServiceRestart websocket.StatusCode = 1012
)

// TokenVerifier checks a relay JWT and returns the bare JID it is bound to. *auth.Authority
// implements it.
type TokenVerifier interface {
	Verify(raw string) (jid.JID, error)
}

// Options configure a Handler.
type Options struct {
	// Verifier checks the access token.
	Verifier TokenVerifier
	// Upstream is the XMPP server's WebSocket URL (ws:// or wss://) or TCP address
	// (xmpp://host:port with STARTTLS, xmpps://host:port with direct TLS).
	Upstream string
	// Credentials, if set, make the relay authenticate the XMPP stream for the token's subject:
	// the client must use SASL PLAIN (its payload is ignored) and the server gets these
	// credentials instead. Nil: the client authenticates end to end.
	Credentials xmppauth.Credentials
	// AllowedOrigins lists the origins, besides the relay's own, whose pages may connect; each
	// must be in ParseOrigin's form.
	AllowedOrigins []string
	// ForwardedProtoHTTPS sends X-Forwarded-Proto: https upstream even when the client link
	// reached the relay without TLS (the relay is behind a TLS-terminating proxy).
	ForwardedProtoHTTPS bool
	// TLSConfig verifies a wss://, xmpps:// or STARTTLS upstream (e.g. a custom CA pool); the
	// system roots if nil.
	TLSConfig *tls.Config
	// DialTimeout bounds the upstream handshake; DefaultDialTimeout if zero.
	DialTimeout time.Duration
	// MaxConnsPerJID caps concurrent bridges of one user; 0 means no cap.
	MaxConnsPerJID int
	// MaxConnsPerIP caps concurrent bridges from one client address; 0 means no cap.
	MaxConnsPerIP int
	// MaxMessageSize caps one message from the client in bytes (close 1009 when exceeded);
	// ClientReadLimit if zero.
	MaxMessageSize int64
	// PingInterval is how often the client gets a WebSocket ping; a client that does not answer
	// within the interval is taken for dead. DefaultPingInterval if zero, none if negative.
	PingInterval time.Duration
	// IdleTimeout closes a bridge that carried no message either way for this long;
	// DefaultIdleTimeout if zero, none if negative.
	IdleTimeout time.Duration
	// ClientIP returns the address the per-IP cap counts; the host of r.RemoteAddr if nil.
	ClientIP func(r *http.Request) string
	// Logger receives bridge events; slog.Default() if nil.
	Logger *slog.Logger
}

// Handler serves GET /ws?access_token=…: it authorizes, upgrades and bridges. Build it with New.
type Handler struct {
	opts    Options
	allowed map[string]bool
	log     *slog.Logger
	ctx     context.Context
	perJID  *limit.Conns
	perIP   *limit.Conns
	stats   Stats

	mu       sync.Mutex
	draining bool
	bridges  map[*bridge]struct{}
	done     sync.WaitGroup // one per running bridge
}

// Stats are the bridge's counters, read with their Load methods.
type Stats struct {
	// Open is the number of bridges open now.
	Open atomic.Int64
	// Opened counts bridges ever opened.
	Opened atomic.Int64
	// BytesToServer and BytesToClient count forwarded message bytes.
	BytesToServer, BytesToClient atomic.Int64
	// Refused counts connections refused before or at the upgrade, by reason.
	Refused sync.Map // string → *atomic.Int64
}

func (s *Stats) refuse(reason string) {
	v, _ := s.Refused.LoadOrStore(reason, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// Stats returns the handler's live counters.
func (h *Handler) Stats() *Stats { return &h.stats }

// Live reports whether the bare JID has a bridge open (or opening) now: a tab of that user is
// connected. The push service skips notifications for such users.
func (h *Handler) Live(bare string) bool { return h.perJID.Count(bare) > 0 }

// New returns a Handler. Ending ctx closes every open bridge with 1012 (service restart), as
// Shutdown does but without waiting: http.Server.Shutdown does not touch upgraded connections.
func New(ctx context.Context, opts Options) (*Handler, error) {
	if opts.Verifier == nil {
		return nil, errors.New("bridge: no token verifier")
	}
	if !isTCP(opts.Upstream) && !strings.HasPrefix(opts.Upstream, "ws://") && !strings.HasPrefix(opts.Upstream, "wss://") {
		return nil, fmt.Errorf("bridge: upstream %q is not a ws://, wss://, xmpp:// or xmpps:// URL", opts.Upstream)
	}
	if opts.MaxConnsPerJID < 0 || opts.MaxConnsPerIP < 0 || opts.MaxMessageSize < 0 {
		return nil, errors.New("bridge: negative connection cap or message size")
	}
	h := &Handler{opts: opts, allowed: map[string]bool{}, log: opts.Logger, ctx: ctx,
		perJID: limit.NewConns(opts.MaxConnsPerJID), perIP: limit.NewConns(opts.MaxConnsPerIP),
		bridges: map[*bridge]struct{}{}}
	for _, o := range opts.AllowedOrigins {
		c, err := ParseOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("bridge: %w", err)
		}
		h.allowed[c] = true
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.opts.DialTimeout == 0 {
		h.opts.DialTimeout = DefaultDialTimeout
	}
	if h.opts.MaxMessageSize == 0 {
		h.opts.MaxMessageSize = ClientReadLimit
	}
	if h.opts.PingInterval == 0 {
		h.opts.PingInterval = DefaultPingInterval
	}
	if h.opts.IdleTimeout == 0 {
		h.opts.IdleTimeout = DefaultIdleTimeout
	}
	if h.opts.ClientIP == nil {
		h.opts.ClientIP = remoteIP
	}
	context.AfterFunc(ctx, func() { h.closeAll() })
	return h, nil
}

func remoteIP(r *http.Request) string {
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return ip
	}
	return r.RemoteAddr
}

// Shutdown refuses new bridges (503), closes every open one with 1012 (service restart) so
// clients reconnect, and waits until all have ended or ctx is done; then it drops the stragglers.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.closeAll()
	finished := make(chan struct{})
	go func() { h.done.Wait(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		h.mu.Lock()
		for b := range h.bridges {
			b.kill()
		}
		h.mu.Unlock()
		return fmt.Errorf("bridge: drain: %w", ctx.Err())
	}
}

// closeAll starts the 1012 close of every bridge and refuses new ones.
func (h *Handler) closeAll() {
	h.mu.Lock()
	h.draining = true
	bs := make([]*bridge, 0, len(h.bridges))
	for b := range h.bridges {
		bs = append(bs, b)
	}
	h.mu.Unlock()
	for _, b := range bs {
		go b.end("relay", StatusServiceRestart, "relay restarting, reconnect")
	}
}

// track registers b as running; it fails when the handler is draining.
func (h *Handler) track(b *bridge) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return false
	}
	h.bridges[b] = struct{}{}
	h.done.Add(1)
	return true
}

func (h *Handler) untrack(b *bridge) {
	h.mu.Lock()
	delete(h.bridges, b)
	h.mu.Unlock()
	h.done.Done()
}

func (h *Handler) isDraining() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.draining
}

// refuse answers a request that will not be bridged, counting it under reason.
func (h *Handler) refuse(w http.ResponseWriter, reason string, e *auth.Error) {
	h.stats.refuse(reason)
	auth.WriteError(w, e)
}

// ServeHTTP implements http.Handler. Refusals happen before the upgrade, as JSON bodies in the
// shape of the token endpoint's errors; after it, problems are reported as close codes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Never log r.URL: its query holds the access token.
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		h.refuse(w, "method", &auth.Error{Status: http.StatusMethodNotAllowed, Code: "invalid_request", Description: "use GET with a WebSocket upgrade"})
		return
	}
	if h.isDraining() {
		w.Header().Set("Retry-After", "5")
		h.refuse(w, "draining", &auth.Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "the relay is restarting; retry shortly"})
		return
	}
	token := bearerToken(r)
	if token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sparkweb"`)
		h.refuse(w, "no_token", &auth.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "missing access_token"})
		return
	}
	sub, err := h.opts.Verifier.Verify(token)
	if err != nil {
		h.log.InfoContext(r.Context(), "bridge refused: bad token", "remote", r.RemoteAddr, "err", err)
		w.Header().Set("WWW-Authenticate", `Bearer realm="sparkweb", error="invalid_token"`)
		h.refuse(w, "bad_token", &auth.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "access token is invalid or expired"})
		return
	}
	// coder/websocket would accept a client that asked for no subprotocol at all.
	if !offersSubprotocol(r, Subprotocol) {
		h.refuse(w, "subprotocol", &auth.Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: `the WebSocket subprotocol "xmpp" (RFC 7395) is required`})
		return
	}
	if origin := r.Header.Get("Origin"); !originAllowed(origin, r.Host, h.allowed) {
		h.log.WarnContext(r.Context(), "bridge refused: origin not allowed", "origin", origin, "jid", sub.String())
		h.refuse(w, "origin", &auth.Error{Status: http.StatusForbidden, Code: "access_denied", Description: fmt.Sprintf("origin %q is not allowed", origin)})
		return
	}
	ip := h.opts.ClientIP(r)
	releaseIP, ok := h.perIP.Acquire(ip)
	if !ok {
		h.log.WarnContext(r.Context(), "bridge refused: too many connections from address", "ip", ip, "max", h.perIP.Max())
		h.refuse(w, "ip_cap", &auth.Error{Status: http.StatusTooManyRequests, Code: "too_many_connections",
			Description: fmt.Sprintf("at most %d connections per client address", h.perIP.Max())})
		return
	}
	defer releaseIP()
	releaseJID, ok := h.perJID.Acquire(sub.String())
	if !ok {
		h.log.WarnContext(r.Context(), "bridge refused: too many connections for account", "jid", sub.String(), "max", h.perJID.Max())
		h.refuse(w, "jid_cap", &auth.Error{Status: http.StatusTooManyRequests, Code: "too_many_connections",
			Description: fmt.Sprintf("at most %d connections per account", h.perJID.Max())})
		return
	}
	defer releaseJID()

	hj := &hijackRecorder{ResponseWriter: w}
	client, err := websocket.Accept(hj, r, &websocket.AcceptOptions{
		Subprotocols: []string{Subprotocol},
		// The origin was checked above, against the relay's own list.
		InsecureSkipVerify: true,
	})
	if err != nil {
		h.stats.refuse("upgrade")
		h.log.InfoContext(r.Context(), "bridge: upgrade failed", "jid", sub.String(), "err", err)
		return // Accept has answered the request
	}
	client.SetReadLimit(h.opts.MaxMessageSize)

	upstream, upstreamRaw, err := h.dialUpstream(r, sub)
	if err != nil {
		h.stats.refuse("upstream")
		h.log.ErrorContext(r.Context(), "bridge: upstream unreachable", "jid", sub.String(), "upstream", h.opts.Upstream, "err", err)
		// 1014 tells the engine it reached the relay but not the XMPP server behind it.
		_ = client.Close(websocket.StatusBadGateway, "upstream unreachable")
		return
	}
	b := &bridge{client: client, upstream: upstream, sub: sub, start: time.Now(), stats: &h.stats, stopped: make(chan struct{}),
		clientRaw: hj.conn, upstreamRaw: upstreamRaw,
		pingInterval: h.opts.PingInterval, idleTimeout: h.opts.IdleTimeout}
	if h.opts.Credentials != nil {
		b.sasl = &saslRelay{ctx: h.ctx, creds: h.opts.Credentials, sub: sub}
	}
	if !h.track(b) {
		_ = client.Close(StatusServiceRestart, "relay restarting, reconnect")
		_ = upstream.Close(websocket.StatusGoingAway, "")
		return
	}
	defer h.untrack(b)
	h.stats.Open.Add(1)
	h.stats.Opened.Add(1)
	defer h.stats.Open.Add(-1)
	h.log.InfoContext(r.Context(), "bridge opened", "jid", sub.String(), "remote", r.RemoteAddr)
	b.run()
	h.log.InfoContext(r.Context(), "bridge closed", "jid", sub.String(),
		"closed_by", b.closedBy, "code", int(b.code), "reason", b.reason,
		"bytes_to_server", b.toUpstream.Load(), "bytes_to_client", b.toClient.Load(),
		"duration", time.Since(b.start).Round(time.Millisecond))
}

// hijackRecorder keeps the connection coder/websocket hijacks, so that a drain deadline can cut
// it: the library's own Close waits up to 5 s for a peer's close frame and cannot be interrupted.
type hijackRecorder struct {
	http.ResponseWriter
	conn net.Conn
}

// Hijack implements http.Hijacker.
func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	h.conn = c
	return c, rw, err
}

// msgConn is a message-oriented XMPP connection: a *websocket.Conn, or a TCP stream seen
// through RFC 7395 framing (*xmpptcp.Conn).
type msgConn interface {
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	Write(ctx context.Context, typ websocket.MessageType, msg []byte) error
	Close(code websocket.StatusCode, reason string) error
}

func isTCP(upstream string) bool {
	return strings.HasPrefix(upstream, "xmpp://") || strings.HasPrefix(upstream, "xmpps://")
}

// dialUpstream connects to the XMPP server and returns the connection with its raw one.
func (h *Handler) dialUpstream(r *http.Request, sub jid.JID) (msgConn, net.Conn, error) {
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.DialTimeout)
	defer cancel()
	if isTCP(h.opts.Upstream) {
		c, err := xmpptcp.Dial(ctx, h.opts.Upstream, xmpptcp.Options{Domain: sub.Domain().String(),
			TLSConfig: h.opts.TLSConfig, HandshakeTimeout: h.opts.DialTimeout, MaxElement: UpstreamReadLimit})
		if err != nil {
			return nil, nil, err
		}
		return c, c.NetConn(), nil
	}
	hdr := http.Header{}
	if r.TLS != nil || h.opts.ForwardedProtoHTTPS {
		// Prosody offers SASL on ws:// only to clients it believes are on an encrypted link.
		hdr.Set("X-Forwarded-Proto", "https")
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		hdr.Set("X-Forwarded-For", ip)
	}
	var raw net.Conn
	dialer := &net.Dialer{}
	// One transport per bridge: WebSocket connections are never pooled, and this one records
	// the raw connection for the drain deadline.
	transport := &http.Transport{
		TLSClientConfig: h.opts.TLSConfig,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			raw = c
			return c, err
		},
		ForceAttemptHTTP2: false,
	}
	conn, resp, err := websocket.Dial(ctx, h.opts.Upstream, &websocket.DialOptions{
		Subprotocols: []string{Subprotocol},
		HTTPHeader:   hdr,
		HTTPClient:   &http.Client{Transport: transport},
	})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, nil, err
	}
	if conn.Subprotocol() != Subprotocol {
		_ = conn.Close(websocket.StatusProtocolError, "xmpp subprotocol required")
		return nil, nil, fmt.Errorf("server did not select the %q subprotocol", Subprotocol)
	}
	conn.SetReadLimit(UpstreamReadLimit)
	return conn, raw, nil
}

// bearerToken reads the token from the query (browsers cannot set headers on a WebSocket) or,
// for other clients, from an Authorization: Bearer header.
func bearerToken(r *http.Request) string {
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t
	}
	if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(t)
	}
	return ""
}

func offersSubprotocol(r *http.Request, want string) bool {
	for _, line := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(line, ",") {
			if strings.TrimSpace(p) == want {
				return true
			}
		}
	}
	return false
}

// bridge is one bridged connection.
type bridge struct {
	client   *websocket.Conn
	upstream msgConn
	sub      jid.JID
	sasl     *saslRelay // set when the relay authenticates the stream
	start    time.Time

	toUpstream, toClient atomic.Int64
	stats                *Stats
	pingInterval         time.Duration
	idleTimeout          time.Duration
	lastMsg              atomic.Int64 // unix nanoseconds of the last message either way

	clientRaw, upstreamRaw net.Conn // under client and upstream, for kill

	stopped  chan struct{} // closed by end
	once     sync.Once
	closedBy string
	code     websocket.StatusCode
	reason   string
}

// run copies messages both ways until either side closes or the bridge is ended.
func (b *bridge) run() {
	b.lastMsg.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		g := &xmlGuard{}
		inspect := []inspector{veto(g.check)}
		if b.sasl != nil {
			inspect = append(inspect, b.sasl.client)
		}
		b.pump("client", b.client, b.upstream, &b.toUpstream, &b.stats.BytesToServer, inspect)
	}()
	go func() {
		defer wg.Done()
		w := &bindWatch{sub: b.sub}
		inspect := []inspector{veto(w.check)}
		if b.sasl != nil {
			inspect = append(inspect, b.sasl.server)
		}
		b.pump("server", b.upstream, b.client, &b.toClient, &b.stats.BytesToClient, inspect)
	}()
	go func() {
		defer wg.Done()
		b.keepalive()
	}()
	wg.Wait()
}

// keepalive pings the client and watches for idleness until the bridge ends. A browser answers
// pings by itself, so a tab that is gone (laptop lid shut, network lost) is found within two
// intervals instead of when TCP finally gives up. The server is not pinged: servers count any
// byte from the client as activity, which would end client state indication (XEP-0352), and
// the engine's own XMPP keepalive finds a dead server link.
func (b *bridge) keepalive() {
	if b.pingInterval < 0 && b.idleTimeout < 0 {
		<-b.stopped
		return
	}
	tick := b.pingInterval
	if tick < 0 || (b.idleTimeout > 0 && b.idleTimeout < tick) {
		tick = b.idleTimeout
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-b.stopped:
			return
		case <-t.C:
		}
		if b.idleTimeout > 0 && time.Since(time.Unix(0, b.lastMsg.Load())) >= b.idleTimeout {
			b.end("relay", websocket.StatusGoingAway, "idle timeout")
			return
		}
		if b.pingInterval > 0 {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), b.pingInterval)
				defer cancel()
				if err := b.client.Ping(ctx); err != nil && ctx.Err() != nil {
					b.end("relay", websocket.StatusGoingAway, "client did not answer ping")
				}
			}()
		}
	}
}

// inspector sees a message before it is forwarded and returns what to forward instead, or an
// error that ends the bridge with a policy violation.
type inspector func(websocket.MessageType, []byte) ([]byte, error)

// veto makes an inspector of a check that only accepts or refuses.
func veto(check func(websocket.MessageType, []byte) error) inspector {
	return func(typ websocket.MessageType, msg []byte) ([]byte, error) { return msg, check(typ, msg) }
}

// pump forwards messages from src to dst. Each inspector in turn sees each message first and
// may change or veto it.
func (b *bridge) pump(name string, src, dst msgConn, n, total *atomic.Int64, inspect []inspector) {
	// Reads use a context that never ends: cancelling a coder/websocket read kills the
	// connection without a close frame. Shutdown goes through end instead.
	ctx := context.Background()
	for {
		typ, msg, err := src.Read(ctx)
		if err != nil {
			code, reason := forwardableClose(err)
			if code < 0 {
				// No close frame: the connection dropped.
				code, reason = websocket.StatusGoingAway, "client went away"
				if name == "server" {
					code, reason = websocket.StatusBadGateway, "upstream connection lost"
				}
			}
			b.end(name, code, reason)
			return
		}
		b.lastMsg.Store(time.Now().UnixNano())
		for _, in := range inspect {
			if msg, err = in(typ, msg); err != nil {
				b.end("relay", websocket.StatusPolicyViolation, closeReason(err))
				return
			}
		}
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		err = dst.Write(wctx, typ, msg)
		cancel()
		if err != nil {
			// The other side's pump sees the failure as its own read error and ends the bridge;
			// calling end here too makes sure, with this side's view of the cause.
			b.end(name, websocket.StatusGoingAway, "peer write failed")
			return
		}
		n.Add(int64(len(msg)))
		total.Add(int64(len(msg)))
	}
}

// forwardableClose extracts a close code and reason that can be sent on to the other side,
// or -1 if err carries none.
func forwardableClose(err error) (websocket.StatusCode, string) {
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return -1, ""
	}
	switch ce.Code {
	case websocket.StatusAbnormalClosure, websocket.StatusTLSHandshake:
		return -1, "" // local-only codes, never on the wire
	}
	return ce.Code, ce.Reason
}

// end closes both sides with code and reason, once; the first caller names the cause.
func (b *bridge) end(by string, code websocket.StatusCode, reason string) {
	b.once.Do(func() {
		b.closedBy, b.code, b.reason = by, code, reason
		close(b.stopped)
		var wg sync.WaitGroup
		for _, c := range []msgConn{b.client, b.upstream} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// The side that closed first has finished its handshake; this is a no-op there.
				_ = c.Close(code, reason)
			}()
		}
		wg.Wait()
	})
}

// closeReason fits err's text into a close frame (at most 123 bytes, RFC 6455 §5.5).
func closeReason(err error) string {
	s := err.Error()
	if len(s) > 123 {
		s = strings.ToValidUTF8(s[:120], "") + "..."
	}
	return s
}

// kill drops both connections at once, without a close handshake.
func (b *bridge) kill() {
	for _, c := range []net.Conn{b.clientRaw, b.upstreamRaw} {
		if c != nil {
			_ = c.Close()
		}
	}
}

// ErrWrongJID is returned by the bind watch when the server bound a JID other than the token's.
var ErrWrongJID = errors.New("bound JID does not match the token")

// bindWatch looks at server messages until the resource-binding result, and vetoes the bridge
// if the stream was authenticated as somebody other than the token's subject.
type bindWatch struct {
	sub  jid.JID
	done bool
}

var nsBind = []byte("urn:ietf:params:xml:ns:xmpp-bind")

func (w *bindWatch) check(typ websocket.MessageType, msg []byte) error {
	if w.done || typ != websocket.MessageText || !bytes.Contains(msg, nsBind) {
		return nil
	}
	var iq struct {
		XMLName xml.Name
		Type    string `xml:"type,attr"`
		JID     string `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
	}
	if err := xml.Unmarshal(msg, &iq); err != nil || iq.XMLName.Local != "iq" || iq.Type != "result" || iq.JID == "" {
		return nil // stream features advertising bind, or not a bind result
	}
	w.done = true
	bound, err := jid.Parse(iq.JID)
	if err != nil {
		return fmt.Errorf("%w: server bound an invalid JID", ErrWrongJID)
	}
	if !bound.Bare().Equal(w.sub) {
		return ErrWrongJID
	}
	return nil
}
