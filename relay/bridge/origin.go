package bridge

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ParseOrigin validates an allowed origin such as "https://chat.example.com" or
// "http://localhost:3000" and returns it in canonical form (lower case, default port dropped),
// as browsers send it in the Origin header.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("origin %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("origin %q: scheme must be http or https", s)
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("origin %q: want scheme://host[:port] and nothing else", s)
	}
	return canonicalOrigin(u.Scheme, u.Host), nil
}

// canonicalOrigin lower-cases scheme and host and drops the scheme's default port.
func canonicalOrigin(scheme, host string) string {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	if h, port, err := net.SplitHostPort(host); err == nil {
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			host = h
			if strings.Contains(h, ":") { // IPv6 literal
				host = "[" + h + "]"
			}
		}
	}
	return scheme + "://" + host
}

// originAllowed decides whether a browser page at origin may open the bridge. Pages served by
// the relay itself (same host) always may; a request without Origin comes from a non-browser
// client, which cross-site request forgery cannot involve.
func originAllowed(origin, requestHost string, allowed map[string]bool) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // includes the opaque origin "null"
	}
	if strings.EqualFold(u.Host, requestHost) {
		return true
	}
	return allowed[canonicalOrigin(u.Scheme, u.Host)]
}
