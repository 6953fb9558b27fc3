// Package upstream talks to the XMPP server behind the relay: it checks passwords with a real
// SASL login over the server's RFC 7395 WebSocket endpoint.
package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// DefaultTimeout bounds one password check, dial included.
const DefaultTimeout = 10 * time.Second

// Checker is an auth.PasswordChecker that logs in upstream and disconnects at once.
type Checker struct {
	// URL is the XMPP server's WebSocket endpoint (ws:// or wss://).
	URL string
	// ForwardedProtoHTTPS sends X-Forwarded-Proto: https. Prosody withholds SASL on ws:// when
	// it requires encryption unless it is told the client link is secure.
	ForwardedProtoHTTPS bool
	// Timeout bounds one check; DefaultTimeout if zero.
	Timeout time.Duration
	// TLSConfig verifies a wss:// server; the system roots if nil.
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

	var hdr http.Header
	if c.ForwardedProtoHTTPS {
		hdr = http.Header{"X-Forwarded-Proto": {"https"}}
	}
	opts := &xmppws.DialOptions{HTTPHeader: hdr}
	if c.TLSConfig != nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: c.TLSConfig}}
	}
	conn, err := xmppws.Dial(ctx, c.URL, opts)
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
	s, err := xmppws.Login(ctx, conn, xmppws.LoginConfig{JID: user.Bare(), Password: password, NoBind: true})
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
