package xmppauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"mellium.im/xmpp/jid"
)

// DefaultJWTTTL is how long a minted upstream JWT is valid: long enough for one login.
const DefaultJWTTTL = 60 * time.Second

// MinSecretLen is the shortest HMAC secret accepted (RFC 7518 §3.2: at least the hash size).
const MinSecretLen = 32

// JWT mints HS256 JWTs that the XMPP server accepts as the SASL PLAIN password (ejabberd
// auth_method: jwt with jwt_jid_field: jid). Claims: "jid" (the user's bare JID), "iat", "exp".
type JWT struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewJWT returns JWT credentials signing with secret (the server's jwt_key, at least
// MinSecretLen bytes); tokens live ttl (DefaultJWTTTL if zero). now is time.Now if nil.
func NewJWT(secret []byte, ttl time.Duration, now func() time.Time) (*JWT, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("xmppauth: JWT secret has %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	if ttl < 0 {
		return nil, errors.New("xmppauth: negative JWT lifetime")
	}
	if ttl == 0 {
		ttl = DefaultJWTTTL
	}
	if now == nil {
		now = time.Now
	}
	return &JWT{secret: append([]byte(nil), secret...), ttl: ttl, now: now}, nil
}

// Mechanism implements Credentials.
func (*JWT) Mechanism() string { return "PLAIN" }

// Mint returns a signed token for user.
func (j *JWT) Mint(user jid.JID) (string, error) {
	now := j.now()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"jid": user.Bare().String(),
		"iat": now.Unix(),
		"exp": now.Add(j.ttl).Unix(),
	})
	s, err := tok.SignedString(j.secret)
	if err != nil {
		return "", fmt.Errorf("xmppauth: sign JWT: %w", err)
	}
	return s, nil
}

// InitialResponse implements Credentials: PLAIN with no authorization identity, the user's
// localpart as authentication identity and a fresh JWT as password (RFC 4616).
func (j *JWT) InitialResponse(_ context.Context, user jid.JID) ([]byte, error) {
	if user.Localpart() == "" {
		return nil, fmt.Errorf("xmppauth: %q has no localpart", user)
	}
	tok, err := j.Mint(user)
	if err != nil {
		return nil, err
	}
	return []byte("\x00" + user.Localpart() + "\x00" + tok), nil
}
