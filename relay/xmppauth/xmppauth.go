// Package xmppauth holds the credentials the relay presents to the XMPP server on a user's
// behalf when the relay, not the browser, authenticates the XMPP stream: a short-lived JWT sent
// as the SASL PLAIN password (ejabberd's auth_method jwt, or any server with a JWT auth module),
// or a single-use bearer token sent with SASL OAUTHBEARER that the server checks by calling back
// the relay (Prosody's mod_auth_oauthbearer). Either way no XMPP password reaches the browser.
package xmppauth

import (
	"context"

	"mellium.im/xmpp/jid"
)

// Credentials mint the SASL exchange that authenticates one user to the XMPP server.
type Credentials interface {
	// Mechanism is the SASL mechanism the server is sent, e.g. "PLAIN".
	Mechanism() string
	// InitialResponse returns the SASL initial response (RFC 4422 §5, not base64-encoded)
	// that authenticates user, a bare JID, and nobody else.
	InitialResponse(ctx context.Context, user jid.JID) ([]byte, error)
}
