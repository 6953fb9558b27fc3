// Package auth issues and verifies SparkWeb relay JWTs and serves the OAuth-shaped token endpoint
// that exchanges an XMPP password for one.
//
// A relay JWT authorizes the WebSocket bridge (and later the push API) for exactly one bare JID,
// its "sub" claim. Tokens are ES256-signed with the first of the Authority's keys; the others
// (a rotated-out key) still verify. Keys come from the relay's store so tokens survive a restart;
// without one, a key is generated and kept in memory only.
package auth

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"mellium.im/xmpp/jid"
)

// Defaults used when Options leave a field empty.
const (
	DefaultIssuer   = "sparkweb-relay"
	DefaultAudience = "sparkweb"
	DefaultTTL      = 15 * time.Minute
)

// Options configure an Authority.
type Options struct {
	// Issuer is the "iss" claim written and required; DefaultIssuer if empty.
	Issuer string
	// Audience is the "aud" claim written and required; DefaultAudience if empty.
	Audience string
	// TTL is how long a token stays valid; DefaultTTL if zero.
	TTL time.Duration
	// Now returns the current time; time.Now if nil. Tests use it to mint expired tokens.
	Now func() time.Time
	// Keys are the P-256 signing keys, current first; one is generated if empty.
	Keys []Key
}

// Key is one ES256 signing key and its "kid".
type Key struct {
	ID      string
	Private *ecdsa.PrivateKey
}

// Authority mints and verifies relay JWTs with ES256 keys. It is safe for concurrent use.
type Authority struct {
	key      *ecdsa.PrivateKey
	kid      string
	verify   map[string]*ecdsa.PublicKey // by kid
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// Token is a freshly minted relay JWT.
type Token struct {
	// Raw is the compact JWS serialization.
	Raw string
	// Subject is the bare JID the token is bound to.
	Subject jid.JID
	// Expires is the "exp" claim.
	Expires time.Time
}

// NewAuthority generates an ephemeral ES256 key pair.
func NewAuthority(opts Options) (*Authority, error) {
	if opts.TTL < 0 {
		return nil, fmt.Errorf("auth: negative token TTL %v", opts.TTL)
	}
	keys := opts.Keys
	if len(keys) == 0 {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("auth: generate ES256 key: %w", err)
		}
		der, err := key.PublicKey.Bytes()
		if err != nil {
			return nil, fmt.Errorf("auth: encode public key: %w", err)
		}
		sum := sha256.Sum256(der)
		keys = []Key{{ID: base64.RawURLEncoding.EncodeToString(sum[:12]), Private: key}}
	}
	verify := map[string]*ecdsa.PublicKey{}
	for _, k := range keys {
		if k.ID == "" || k.Private == nil || k.Private.Curve != elliptic.P256() {
			return nil, fmt.Errorf("auth: signing key %q: want a P-256 key with an id", k.ID)
		}
		verify[k.ID] = &k.Private.PublicKey
	}
	a := &Authority{
		key:      keys[0].Private,
		kid:      keys[0].ID,
		verify:   verify,
		issuer:   cmp.Or(opts.Issuer, DefaultIssuer),
		audience: cmp.Or(opts.Audience, DefaultAudience),
		ttl:      opts.TTL,
		now:      opts.Now,
	}
	if a.ttl == 0 {
		a.ttl = DefaultTTL
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// TTL reports how long tokens minted by a stay valid.
func (a *Authority) TTL() time.Duration { return a.ttl }

// Mint issues a token for the bare JID sub.
func (a *Authority) Mint(sub jid.JID) (Token, error) {
	if sub.Localpart() == "" || sub.Resourcepart() != "" {
		return Token{}, fmt.Errorf("auth: token subject %q is not a bare user JID", sub)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Token{}, fmt.Errorf("auth: token id: %w", err)
	}
	now := a.now().Truncate(time.Second)
	exp := now.Add(a.ttl)
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{
		Subject:   sub.String(),
		Issuer:    a.issuer,
		Audience:  jwt.ClaimStrings{a.audience},
		ExpiresAt: jwt.NewNumericDate(exp),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        base64.RawURLEncoding.EncodeToString(id[:]),
	})
	t.Header["kid"] = a.kid
	raw, err := t.SignedString(a.key)
	if err != nil {
		return Token{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return Token{Raw: raw, Subject: sub, Expires: exp}, nil
}

// ErrInvalidToken is wrapped in every error Verify returns.
var ErrInvalidToken = errors.New("invalid relay token")

// Verify checks signature, algorithm, issuer, audience and expiry of raw and returns the bare
// JID it is bound to.
func (a *Authority) Verify(raw string) (jid.JID, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		pub, ok := a.verify[kid]
		if !ok {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		return pub, nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithAudience(a.audience),
		jwt.WithIssuer(a.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(a.now),
	)
	if err != nil {
		return jid.JID{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	sub, err := jid.Parse(claims.Subject)
	if err != nil || sub.Localpart() == "" || sub.Resourcepart() != "" {
		return jid.JID{}, fmt.Errorf("%w: subject %q is not a bare user JID", ErrInvalidToken, claims.Subject)
	}
	return sub, nil
}
