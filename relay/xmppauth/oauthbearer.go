package xmppauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"
)

// DefaultBearerTTL is how long a minted bearer token waits for the server's check.
const DefaultBearerTTL = 60 * time.Second

// maxPending bounds the tokens waiting to be checked, so a flood of logins cannot grow memory.
const maxPending = 100_000

// OAuthBearer mints single-use bearer tokens sent with SASL OAUTHBEARER (RFC 7628) and answers
// the XMPP server's check of them over HTTP: Prosody's mod_auth_oauthbearer GETs its oauth_url
// with the token in place of {{password}} and Basic authentication with its client id and
// secret, and accepts the login on a 2xx. A token is valid once, for ttl, for the one user it
// was minted for. It is safe for concurrent use.
type OAuthBearer struct {
	clientID, clientSecret string
	ttl                    time.Duration
	now                    func() time.Time
	log                    *slog.Logger

	mu      sync.Mutex
	pending map[string]bearer
}

type bearer struct {
	user    jid.JID
	expires time.Time
}

// OAuthBearerOptions configure NewOAuthBearer.
type OAuthBearerOptions struct {
	// ClientID and ClientSecret are what the server sends as Basic credentials (Prosody's
	// oauth_client_id and oauth_client_secret). Both required.
	ClientID, ClientSecret string
	// TTL is how long a token stays valid; DefaultBearerTTL if zero.
	TTL time.Duration
	// Now returns the current time; time.Now if nil.
	Now func() time.Time
	// Logger receives refused checks; slog.Default() if nil.
	Logger *slog.Logger
}

// NewOAuthBearer returns OAUTHBEARER credentials and their check endpoint.
func NewOAuthBearer(opts OAuthBearerOptions) (*OAuthBearer, error) {
	if opts.ClientID == "" || len(opts.ClientSecret) < 16 {
		return nil, fmt.Errorf("xmppauth: OAUTHBEARER needs a client id and a client secret of at least 16 bytes")
	}
	o := &OAuthBearer{clientID: opts.ClientID, clientSecret: opts.ClientSecret, ttl: opts.TTL, now: opts.Now,
		log: opts.Logger, pending: map[string]bearer{}}
	if o.ttl <= 0 {
		o.ttl = DefaultBearerTTL
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	return o, nil
}

// Mechanism implements Credentials.
func (*OAuthBearer) Mechanism() string { return "OAUTHBEARER" }

// InitialResponse implements Credentials: the GS2 header names the user as authorization
// identity (Prosody takes the localpart from it) and the bearer token is fresh.
func (o *OAuthBearer) InitialResponse(_ context.Context, user jid.JID) ([]byte, error) {
	bare := user.Bare().String()
	if user.Localpart() == "" || strings.ContainsAny(bare, ",=") {
		// GS2 would escape these, and the Prosody module does not unescape them.
		return nil, fmt.Errorf("xmppauth: %q cannot be named in an OAUTHBEARER header", bare)
	}
	tok, err := o.mint(user)
	if err != nil {
		return nil, err
	}
	return []byte("n,a=" + bare + ",\x01auth=Bearer " + tok + "\x01\x01"), nil
}

func (o *OAuthBearer) mint(user jid.JID) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("xmppauth: bearer token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) >= maxPending/2 {
		for k, v := range o.pending {
			if !now.Before(v.expires) {
				delete(o.pending, k)
			}
		}
	}
	if len(o.pending) >= maxPending {
		return "", fmt.Errorf("xmppauth: %d bearer tokens await their check; refusing more", len(o.pending))
	}
	o.pending[tok] = bearer{user: user.Bare(), expires: now.Add(o.ttl)}
	return tok, nil
}

// Check consumes tok and returns the user it was minted for; false if tok is unknown, used
// or expired.
func (o *OAuthBearer) Check(tok string) (jid.JID, bool) {
	o.mu.Lock()
	b, ok := o.pending[tok]
	delete(o.pending, tok)
	o.mu.Unlock()
	if !ok || !o.now().Before(b.expires) {
		return jid.JID{}, false
	}
	return b.user, true
}

// ServeHTTP answers the server's token check, GET {prefix}/{token} (the token is the last path
// segment): 200 {"active": true, "jid": …} for a valid token, 401 for wrong client
// credentials, 404 otherwise. Serve it on a loopback-only listener.
func (o *OAuthBearer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write([]byte(`{"active":false}`))
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(id), []byte(o.clientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(o.clientSecret)) != 1 {
		o.log.WarnContext(r.Context(), "bearer check refused: wrong client credentials", "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Basic realm="sparkweb-internal"`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"active":false}`))
		return
	}
	tok := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	user, ok := o.Check(tok)
	if !ok {
		// Never log the token itself.
		o.log.InfoContext(r.Context(), "bearer check: unknown, used or expired token")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"active":false}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "jid": user.String()})
}
