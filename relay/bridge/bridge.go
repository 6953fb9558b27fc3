// Package bridge connects the engine's WebSocket to the XMPP server's WebSocket (RFC 7395).
//
// The relay does not parse the XMPP stream: it authorizes the connection with a relay JWT,
// then copies WebSocket messages both ways unchanged, keeping their type and propagating the
// close code. The only look inside is at the resource-binding result, so a token for one user
// cannot carry a session for another.
package bridge

import (
	"bytes"
	"context"
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
)

// Subprotocol is the WebSocket subprotocol of RFC 7395, required on both sides.
const Subprotocol = "xmpp"

// Limits on the bridge.
const (
	// ClientReadLimit caps one message from the browser; servers refuse larger stanzas anyway.
	ClientReadLimit = 256 << 10
	// UpstreamReadLimit caps one message from the XMPP server (a large roster is one element).
	UpstreamReadLimit = 1 << 20
	// DefaultDialTimeout bounds the upstream WebSocket handshake.
	DefaultDialTimeout = 10 * time.Second
	// writeTimeout bounds one forwarded message; a peer that stops reading ends the bridge.
	writeTimeout = time.Minute
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
	// Upstream is the XMPP server's WebSocket URL (ws:// or wss://).
	Upstream string
	// AllowedOrigins lists the origins, besides the relay's own, whose pages may connect; each
	// must be in ParseOrigin's form.
	AllowedOrigins []string
	// ForwardedProtoHTTPS sends X-Forwarded-Proto: https upstream even when the client link
	// reached the relay without TLS (the relay is behind a TLS-terminating proxy).
	ForwardedProtoHTTPS bool
	// DialTimeout bounds the upstream handshake; DefaultDialTimeout if zero.
	DialTimeout time.Duration
	// Logger receives bridge events; slog.Default() if nil.
	Logger *slog.Logger
}

// Handler serves GET /ws?access_token=…: it authorizes, upgrades and bridges. Build it with New.
type Handler struct {
	opts    Options
	allowed map[string]bool
	log     *slog.Logger
	ctx     context.Context
}

// New returns a Handler. Ending ctx closes every open bridge with 1001 (going away), which is
// how the relay shuts down: http.Server.Shutdown does not touch upgraded connections.
func New(ctx context.Context, opts Options) (*Handler, error) {
	if opts.Verifier == nil {
		return nil, errors.New("bridge: no token verifier")
	}
	if !strings.HasPrefix(opts.Upstream, "ws://") && !strings.HasPrefix(opts.Upstream, "wss://") {
		return nil, fmt.Errorf("bridge: upstream %q is not a ws:// or wss:// URL", opts.Upstream)
	}
	h := &Handler{opts: opts, allowed: map[string]bool{}, log: opts.Logger, ctx: ctx}
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
	return h, nil
}

// ServeHTTP implements http.Handler. Refusals happen before the upgrade, as JSON bodies in the
// shape of the token endpoint's errors; after it, problems are reported as close codes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Never log r.URL: its query holds the access token.
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		auth.WriteError(w, &auth.Error{Status: http.StatusMethodNotAllowed, Code: "invalid_request", Description: "use GET with a WebSocket upgrade"})
		return
	}
	token := bearerToken(r)
	if token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sparkweb"`)
		auth.WriteError(w, &auth.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "missing access_token"})
		return
	}
	sub, err := h.opts.Verifier.Verify(token)
	if err != nil {
		h.log.InfoContext(r.Context(), "bridge refused: bad token", "remote", r.RemoteAddr, "err", err)
		w.Header().Set("WWW-Authenticate", `Bearer realm="sparkweb", error="invalid_token"`)
		auth.WriteError(w, &auth.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "access token is invalid or expired"})
		return
	}
	// coder/websocket would accept a client that asked for no subprotocol at all.
	if !offersSubprotocol(r, Subprotocol) {
		auth.WriteError(w, &auth.Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: `the WebSocket subprotocol "xmpp" (RFC 7395) is required`})
		return
	}
	if origin := r.Header.Get("Origin"); !originAllowed(origin, r.Host, h.allowed) {
		h.log.WarnContext(r.Context(), "bridge refused: origin not allowed", "origin", origin, "jid", sub.String())
		auth.WriteError(w, &auth.Error{Status: http.StatusForbidden, Code: "access_denied", Description: fmt.Sprintf("origin %q is not allowed", origin)})
		return
	}

	client, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{Subprotocol},
		// The origin was checked above, against the relay's own list.
		InsecureSkipVerify: true,
	})
	if err != nil {
		h.log.InfoContext(r.Context(), "bridge: upgrade failed", "jid", sub.String(), "err", err)
		return // Accept has answered the request
	}
	client.SetReadLimit(ClientReadLimit)

	upstream, err := h.dialUpstream(r)
	if err != nil {
		h.log.ErrorContext(r.Context(), "bridge: upstream unreachable", "jid", sub.String(), "upstream", h.opts.Upstream, "err", err)
		// 1014 tells the engine it reached the relay but not the XMPP server behind it.
		_ = client.Close(websocket.StatusBadGateway, "upstream unreachable")
		return
	}
	upstream.SetReadLimit(UpstreamReadLimit)

	b := &bridge{client: client, upstream: upstream, sub: sub, start: time.Now()}
	h.log.InfoContext(r.Context(), "bridge opened", "jid", sub.String(), "remote", r.RemoteAddr)
	b.run(h.ctx)
	h.log.InfoContext(r.Context(), "bridge closed", "jid", sub.String(),
		"closed_by", b.closedBy, "code", int(b.code), "reason", b.reason,
		"bytes_to_server", b.toUpstream.Load(), "bytes_to_client", b.toClient.Load(),
		"duration", time.Since(b.start).Round(time.Millisecond))
}

func (h *Handler) dialUpstream(r *http.Request) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.DialTimeout)
	defer cancel()
	hdr := http.Header{}
	if r.TLS != nil || h.opts.ForwardedProtoHTTPS {
		// Prosody offers SASL on ws:// only to clients it believes are on an encrypted link.
		hdr.Set("X-Forwarded-Proto", "https")
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		hdr.Set("X-Forwarded-For", ip)
	}
	conn, resp, err := websocket.Dial(ctx, h.opts.Upstream, &websocket.DialOptions{
		Subprotocols: []string{Subprotocol},
		HTTPHeader:   hdr,
	})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	if conn.Subprotocol() != Subprotocol {
		_ = conn.Close(websocket.StatusProtocolError, "xmpp subprotocol required")
		return nil, fmt.Errorf("server did not select the %q subprotocol", Subprotocol)
	}
	return conn, nil
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
	client, upstream *websocket.Conn
	sub              jid.JID
	start            time.Time

	toUpstream, toClient atomic.Int64

	once     sync.Once
	closedBy string
	code     websocket.StatusCode
	reason   string
}

// run copies messages both ways until either side closes or ctx ends.
func (b *bridge) run(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		b.end("relay", websocket.StatusGoingAway, "relay shutting down")
	})
	defer stop()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		b.pump("client", b.client, b.upstream, &b.toUpstream, nil)
	}()
	go func() {
		defer wg.Done()
		w := &bindWatch{sub: b.sub}
		b.pump("server", b.upstream, b.client, &b.toClient, w.check)
	}()
	wg.Wait()
}

// pump forwards messages from src to dst. inspect, if set, sees each message first and may
// veto it, ending the bridge with a policy violation.
func (b *bridge) pump(name string, src, dst *websocket.Conn, n *atomic.Int64, inspect func(websocket.MessageType, []byte) error) {
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
		if inspect != nil {
			if err := inspect(typ, msg); err != nil {
				b.end("relay", websocket.StatusPolicyViolation, err.Error())
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
		var wg sync.WaitGroup
		for _, c := range []*websocket.Conn{b.client, b.upstream} {
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
