// Package upstream talks to the XMPP server behind the relay: it checks passwords with a real
// SASL login over the server's RFC 7395 WebSocket endpoint or its TCP port.
package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/relay/xmpptcp"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// DefaultTimeout bounds one password check, dial included.
const DefaultTimeout = 10 * time.Second

// Checker is an auth.PasswordChecker that logs in upstream and disconnects at once.
type Checker struct {
	// URL is the XMPP server's WebSocket endpoint (ws:// or wss://) or TCP address (xmpp://
	// with STARTTLS, xmpps:// with direct TLS).
	URL string
	// ForwardedProtoHTTPS sends X-Forwarded-Proto: https. Prosody withholds SASL on ws:// when
	// it requires encryption unless it is told the client link is secure.
	ForwardedProtoHTTPS bool
	// Timeout bounds one check; DefaultTimeout if zero.
	Timeout time.Duration
	// TLSConfig verifies a TLS server; the system roots if nil.
	TLSConfig *tls.Config
}

var _ auth.PasswordChecker = (*Checker)(nil)

// CheckPassword logs user in upstream with password. A rejection by the server wraps
// auth.ErrInvalidCredentials; every other failure means the server could not be asked.
func (c *Checker) CheckPassword(ctx context.Context, user jid.JID, password string) (err error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	conn, err := c.dial(ctx, user.Domain().String())
	if err != nil {
		return fmt.Errorf("upstream: dial %s: %w", c.URL, err)
	}
	defer conn.Close()
	// The connection's reads do not watch ctx; a deadline keeps a silent server from hanging us.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	// SASL alone proves the password: no resource is bound, so no session ever appears.
	// PLAIN only where the server offers nothing better (ejabberd with JWT auth offers PLAIN
	// alone); this link is the relay's own, TLS or loopback, never the browser's.
	s, err := xmppws.Login(ctx, conn, xmppws.LoginConfig{JID: user.Bare(), Password: password, NoBind: true, AllowPlain: true})
	if errors.Is(err, xmppws.ErrNotAuthorized) {
		return fmt.Errorf("upstream: %w: %w", auth.ErrInvalidCredentials, err)
	}
	if err != nil {
		return fmt.Errorf("upstream: login at %s: %w", c.URL, err)
	}
	// The password is right whatever happens while closing; a failed close only costs a log line.
	_ = s.Close()
	return nil
}

// Dial connects to the server for domain and returns an unauthenticated stream in RFC 7395
// framing (one element per Write and Read), e.g. for in-band registration. Close it when done.
func (c *Checker) Dial(ctx context.Context, domain string) (net.Conn, error) {
	conn, err := c.dial(ctx, domain)
	if err != nil {
		return nil, fmt.Errorf("upstream: dial %s: %w", c.URL, err)
	}
	return conn, nil
}

// dial connects to the server and returns a stream in RFC 7395 framing.
func (c *Checker) dial(ctx context.Context, domain string) (net.Conn, error) {
	if strings.HasPrefix(c.URL, "xmpp://") || strings.HasPrefix(c.URL, "xmpps://") {
		tc, err := xmpptcp.Dial(ctx, c.URL, xmpptcp.Options{Domain: domain, TLSConfig: c.TLSConfig})
		if err != nil {
			return nil, err
		}
		return xmpptcp.NetConn(tc), nil
	}
	var hdr http.Header
	if c.ForwardedProtoHTTPS {
		hdr = http.Header{"X-Forwarded-Proto": {"https"}}
	}
	opts := &xmppws.DialOptions{HTTPHeader: hdr}
	if c.TLSConfig != nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: c.TLSConfig}}
	}
	return xmppws.Dial(ctx, c.URL, opts)
}
