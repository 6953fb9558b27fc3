package push

import (
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Limits on what a browser may register. Real endpoints are 150–600 bytes.
const (
	maxEndpointLen = 2048
	maxKeyLen      = 128 // base64 of a 65-byte key is 87 characters
)

// errNotPublic refuses a connection to an address a push service cannot have.
var errNotPublic = errors.New("not a public address")

// validEndpoint checks a subscription's endpoint. The relay POSTs to whatever is registered,
// so it must not become a way to reach the relay's own network (SSRF): only https on port 443
// to a host name or public address; the dialer checks again on every connection (see
// newClient), because a name can resolve to anything. With allowLoopbackHTTP (tests), http and
// any port are accepted on loopback.
func validEndpoint(raw string, allowLoopbackHTTP bool) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("endpoint: required")
	}
	if len(raw) > maxEndpointLen {
		return nil, fmt.Errorf("endpoint: longer than %d bytes", maxEndpointLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	host := u.Hostname()
	switch {
	case u.Host == "" || host == "":
		return nil, errors.New("endpoint: want an absolute https:// URL")
	case u.User != nil:
		return nil, errors.New("endpoint: must not carry user information")
	case u.Fragment != "":
		return nil, errors.New("endpoint: must not have a fragment")
	}
	addr, ipErr := netip.ParseAddr(host)
	isIP := ipErr == nil
	loopback := isIP && addr.Unmap().IsLoopback()
	if allowLoopbackHTTP && loopback && (u.Scheme == "http" || u.Scheme == "https") {
		return u, nil
	}
	switch {
	case u.Scheme != "https":
		return nil, fmt.Errorf("endpoint: scheme %q, want https", u.Scheme)
	case u.Port() != "" && u.Port() != "443":
		return nil, fmt.Errorf("endpoint: port %s, want 443 (the port push services use)", u.Port())
	case isIP && !public(addr):
		return nil, fmt.Errorf("endpoint: %s is %w", addr, errNotPublic)
	case !isIP && (host == "localhost" || strings.HasSuffix(host, ".localhost") || !strings.Contains(host, ".")):
		return nil, fmt.Errorf("endpoint: host %q is not a public name", host)
	}
	return u, nil
}

// validKeys checks a subscription's keys: a P-256 public key and a 16-byte auth secret, in
// base64url (padded or not; some browsers once sent standard base64).
func validKeys(p256dh, auth string) error {
	if len(p256dh) > maxKeyLen || len(auth) > maxKeyLen {
		return errors.New("keys: too long")
	}
	pub, err := decodeKey(p256dh)
	if err != nil {
		return fmt.Errorf("keys.p256dh: %w", err)
	}
	if _, err := ecdh.P256().NewPublicKey(pub); err != nil {
		return fmt.Errorf("keys.p256dh: not an uncompressed P-256 point: %w", err)
	}
	a, err := decodeKey(auth)
	if err != nil {
		return fmt.Errorf("keys.auth: %w", err)
	}
	if len(a) != 16 {
		return fmt.Errorf("keys.auth: %d bytes, want 16", len(a))
	}
	return nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	return b, nil
}

// public reports whether a push service could be at addr: not loopback, private, link-local,
// multicast, unspecified, or one of the special-purpose ranges.
func public(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() ||
		addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsUnspecified() {
		return false
	}
	for _, p := range specialRanges {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// specialRanges are the IANA special-purpose blocks the netip predicates do not cover.
var specialRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: embeds any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds any IPv4 address
	netip.MustParsePrefix("fc00::/7"),        // unique local (IsPrivate has it; kept for clarity)
}

// newClient returns the HTTP client pushes go out with. Its dialer refuses non-public
// addresses after name resolution (so DNS cannot point it inward), it never uses a proxy from
// the environment (which would skip that check), and it follows no redirects.
func newClient(allowLoopback bool) *http.Client {
	dialer := &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("push: dial %s: %w", address, err)
			}
			if allowLoopback && ap.Addr().Unmap().IsLoopback() {
				return nil
			}
			if !public(ap.Addr()) {
				return fmt.Errorf("push: dial %s: %w", address, errNotPublic)
			}
			return nil
		},
	}
	return &http.Client{
		Timeout: sendTimeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 20 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
