package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

func passwordGrant(j jid.JID, password string) url.Values {
	return url.Values{"grant_type": {"password"}, "username": {j.Bare().String()}, "password": {password}}
}

// refreshGrant asks for a new token with the relay's HttpOnly refresh cookie, which the browser
// (or a native client's cookie jar) sends by itself.
func refreshGrant() url.Values {
	return url.Values{"grant_type": {"refresh_token"}}
}

func assertionGrant(assertion string) url.Values {
	return url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
}

// grant is what the token endpoint gave.
type grant struct {
	token string
	exp   time.Time
	// relayAuth: the relay authenticates the XMPP stream itself (jwt or oauthbearer upstream
	// modes), so the engine logs in with SASL PLAIN and a placeholder the relay replaces.
	relayAuth bool
}

// fetchToken exchanges a grant for a relay JWT at POST /api/token.
func (e *Engine) fetchToken(ctx context.Context, form url.Values) (grant, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(e.cfg.RelayURL, "/")+"/api/token", strings.NewReader(form.Encode()))
	if err != nil {
		return grant{}, protocol.Errorf(protocol.CodeInternal, "token request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := e.cfg.HTTPClient.Do(req)
	if err != nil {
		return grant{}, protocol.Errorf(protocol.CodeServerUnreachable, "relay unreachable: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		XMPPAuth    string `json:"xmpp_auth"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return grant{}, protocol.Errorf(protocol.CodeServerUnreachable, "relay answered HTTP %d without a token", resp.StatusCode)
	}
	switch {
	case resp.StatusCode == http.StatusOK && body.AccessToken != "":
		return grant{
			token:     body.AccessToken,
			exp:       time.Now().Add(time.Duration(body.ExpiresIn) * time.Second),
			relayAuth: body.XMPPAuth == "relay",
		}, nil
	case body.Error == "invalid_grant":
		return grant{}, protocol.Errorf(protocol.CodeNotAuthorized, "wrong username or password")
	case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusBadGateway:
		return grant{}, protocol.Errorf(protocol.CodeServerUnreachable, "XMPP server unreachable: %s", body.Description)
	default:
		return grant{}, protocol.Errorf(protocol.CodeInternal, "token refused (HTTP %d %s): %s", resp.StatusCode, body.Error, body.Description)
	}
}

// bridgeURL is the relay's WebSocket bridge for token.
func (e *Engine) bridgeURL(token string) (string, error) {
	u, err := url.Parse(strings.TrimRight(e.cfg.RelayURL, "/") + "/ws")
	if err != nil {
		return "", fmt.Errorf("relay URL: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("relay URL %q: scheme must be http or https", e.cfg.RelayURL)
	}
	u.RawQuery = url.Values{"access_token": {token}}.Encode()
	return u.String(), nil
}

// tokenSubject reads the sub claim of a relay JWT without verifying it: the relay verifies its
// own tokens; the engine only needs to know whom a site-JWT sign-in made it.
func tokenSubject(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("relay token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("relay token payload: %w", err)
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Sub == "" {
		return "", errors.New("relay token names no user")
	}
	return claims.Sub, nil
}
