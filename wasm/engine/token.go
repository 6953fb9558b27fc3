package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// fetchToken exchanges the password for a relay JWT (POST /api/token, grant_type=password).
func (e *Engine) fetchToken(ctx context.Context, j jid.JID, password string) (string, error) {
	form := url.Values{"grant_type": {"password"}, "username": {j.Bare().String()}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(e.cfg.RelayURL, "/")+"/api/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", protocol.Errorf(protocol.CodeInternal, "token request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := e.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", protocol.Errorf(protocol.CodeServerUnreachable, "relay unreachable: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return "", protocol.Errorf(protocol.CodeServerUnreachable, "relay answered HTTP %d without a token", resp.StatusCode)
	}
	switch {
	case resp.StatusCode == http.StatusOK && body.AccessToken != "":
		return body.AccessToken, nil
	case body.Error == "invalid_grant":
		return "", protocol.Errorf(protocol.CodeNotAuthorized, "wrong username or password")
	case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusBadGateway:
		return "", protocol.Errorf(protocol.CodeServerUnreachable, "XMPP server unreachable: %s", body.Description)
	default:
		return "", protocol.Errorf(protocol.CodeInternal, "token refused (HTTP %d %s): %s", resp.StatusCode, body.Error, body.Description)
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
