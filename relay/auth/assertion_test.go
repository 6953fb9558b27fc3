package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// siteKeys are an embedding site's keys, as files the relay is configured with.
type siteKeys struct {
	hmac     []byte
	rsa      *rsa.PrivateKey
	rsaPEM   []byte // the public key as the relay holds it
	ec       *ecdsa.PrivateKey
	ed       ed25519.PrivateKey
	dir      string
	rsaFile  string
	edFile   string
	jwksFile string
}

func newSiteKeys(t *testing.T) *siteKeys {
	t.Helper()
	k := &siteKeys{hmac: []byte("0123456789abcdef0123456789abcdef"), dir: t.TempDir()}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	var edPub ed25519.PublicKey
	if edPub, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	writePub := func(name string, pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		data := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		path := filepath.Join(k.dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if name == "site-rsa.pem" {
			k.rsaPEM = data
		}
		return path
	}
	k.rsaFile = writePub("site-rsa.pem", &k.rsa.PublicKey)
	k.edFile = writePub("site-ed.pem", edPub)
	b64 := base64.RawURLEncoding.EncodeToString
	ecdh, _ := k.ec.PublicKey.Bytes() // 0x04 || X || Y
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": b64(ecdh[1:33]), "y": b64(ecdh[33:]), "use": "sig"},
	}})
	k.jwksFile = filepath.Join(k.dir, "jwks.json")
	if err := os.WriteFile(k.jwksFile, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAssertionTokens is the table of site JWTs: the good ones name the user; each bad one is
// refused with a reason.
func TestAssertionTokens(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	k := newSiteKeys(t)
	v, err := NewAssertionVerifier(AssertionConfig{
		Issuer: "https://site.example", Audience: "sparkweb", HMACSecret: k.hmac,
		PublicKeyFiles: []string{k.rsaFile, k.edFile}, JWKSFile: k.jwksFile,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "https://site.example", "aud": "sparkweb", "sub": "alice",
			"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	good := sign(t, jwt.SigningMethodHS256, k.hmac, "", claims(nil))
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://site.example","aud":"sparkweb","sub":"admin","exp":9999999999}`)) + "." + parts[2]
	unsignedNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + strings.Split(good, ".")[1] + "."
	noneLib := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(nil))

	tests := []struct {
		name    string
		token   string
		user    string // "" means refused
		wantErr string
	}{
		{"HS256", good, "alice", ""},
		{"RS256 PEM", sign(t, jwt.SigningMethodRS256, k.rsa, "", claims(nil)), "alice", ""},
		{"RS256 PEM by kid", sign(t, jwt.SigningMethodRS256, k.rsa, "site-rsa", claims(nil)), "alice", ""},
		{"PS256", sign(t, jwt.SigningMethodPS256, k.rsa, "", claims(nil)), "alice", ""},
		{"ES256 JWKS kid", sign(t, jwt.SigningMethodES256, k.ec, "ec-1", claims(nil)), "alice", ""},
		{"EdDSA", sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims(nil)), "alice", ""},
		{"skew within leeway", sign(t, jwt.SigningMethodHS256, k.hmac, "", claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() })), "alice", ""},
		{"bare JID user", sign(t, jwt.SigningMethodHS256, k.hmac, "", claims(func(c jwt.MapClaims) { c["sub"] = "alice@example.org" })), "alice@example.org", ""},

		{"alg none (hand-made)", unsignedNone, "", "signature"},
		{"alg none (library)", noneLib, "", "signing method"},
		{"HS/RS key confusion", sign(t, jwt.SigningMethodHS256, k.rsaPEM, "site-rsa", claims(nil)), "", "signature"},
		{"wrong aud", sign(t, jwt.SigningMethodHS256, k.hmac, "", claims(func(c jwt.MapClaims) { c["aud"] = "other" })), "", "audience"},
		{"no aud", sign(t, jwt.SigningMethodHS256, k.hmac, "", claims(func(c jwt.MapClaims) { delete(c, "aud") })), "", "aud"},
		{"wrong iss", sign(t, jwt.SigningMethodHS256, k.hmac, "", claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })), "", "issuer"},
		{"expired", sign(t, jwt.SigningMethodHS256, k.hmac, "", claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })), "", "expired"},
		{"no exp", sign(t, jwt.SigningMethodHS256, k.hmac, "", claims(func(c jwt.MapClaims) { delete(c, "exp") })), "", "exp"},
		{"nbf in the future", sign(t, jwt.SigningMethodHS256, k.hmac, "", claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })), "", "not valid yet"},
		{"iat in the future", sign(t, jwt.SigningMethodHS256, k.hmac, "", claims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() })), "", "before issued"},
		{"tampered signature", tampered, "", "signature"},
		{"wrong HMAC secret", sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), "", claims(nil)), "", "signature"},
		{"unknown kid", sign(t, jwt.SigningMethodES256, k.ec, "ec-9", claims(nil)), "", "unknown key id"},
		{"oversized", sign(t, jwt.SigningMethodHS256, k.hmac, "", claims(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("x", MaxAssertionSize) })), "", "larger than"},
		{"no user claim", sign(t, jwt.SigningMethodHS256, k.hmac, "", claims(func(c jwt.MapClaims) { delete(c, "sub") })), "", "naming the user"},
		{"garbage", "not.a.jwt", "", "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, err := v.Verify(tc.token)
			if tc.user != "" {
				if err != nil || user != tc.user {
					t.Fatalf("Verify = %q, %v; want %q", user, err, tc.user)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, user %q", user)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestAssertionAlgorithmAllowList(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	k := newSiteKeys(t)
	v, err := NewAssertionVerifier(AssertionConfig{Issuer: "i", Audience: "a", PublicKeyFiles: []string{k.rsaFile},
		Algorithms: []string{"RS256"}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	c := jwt.MapClaims{"iss": "i", "aud": "a", "sub": "bob", "exp": now.Add(time.Minute).Unix()}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k.rsa, "", c)); err != nil {
		t.Errorf("RS256 refused: %v", err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS512, k.rsa, "", c)); err == nil {
		t.Error("RS512 accepted outside the allow-list")
	}
	// Key confusion against an RSA-only relay: the public key (which anyone may have) used as
	// an HMAC secret.
	if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, k.rsaPEM, "", c)); err == nil || !strings.Contains(err.Error(), "signing method") {
		t.Errorf("HS256 with the RSA public key as secret: %v, want refused for its signing method", err)
	}
}

func TestAssertionConfig(t *testing.T) {
	k := newSiteKeys(t)
	bad := filepath.Join(k.dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`), 0o600)
	priv := filepath.Join(k.dir, "priv.pem")
	der, _ := x509.MarshalPKCS8PrivateKey(k.ec)
	_ = os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	tests := []struct {
		name string
		cfg  AssertionConfig
	}{
		{"no issuer", AssertionConfig{Audience: "a", HMACSecret: k.hmac}},
		{"no key", AssertionConfig{Issuer: "i", Audience: "a"}},
		{"short secret", AssertionConfig{Issuer: "i", Audience: "a", HMACSecret: []byte("short")}},
		{"missing file", AssertionConfig{Issuer: "i", Audience: "a", PublicKeyFiles: []string{filepath.Join(k.dir, "nope.pem")}}},
		{"private key file", AssertionConfig{Issuer: "i", Audience: "a", PublicKeyFiles: []string{priv}}},
		{"bad JWKS point", AssertionConfig{Issuer: "i", Audience: "a", JWKSFile: bad}},
		{"alg none", AssertionConfig{Issuer: "i", Audience: "a", HMACSecret: k.hmac, Algorithms: []string{"none"}}},
		{"alg without key", AssertionConfig{Issuer: "i", Audience: "a", HMACSecret: k.hmac, Algorithms: []string{"RS256"}}},
	}
	for _, tc := range tests {
		if _, err := NewAssertionVerifier(tc.cfg); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// FuzzAssertion feeds arbitrary token text to the verifier: it must never panic, and nothing
// the fuzzer makes without the keys may pass.
func FuzzAssertion(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := NewAssertionVerifier(AssertionConfig{Issuer: "i", Audience: "a", HMACSecret: secret, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJIUzI1NiIsImtpZCI6MX0.e30.AAAA")
	f.Fuzz(func(t *testing.T, raw string) {
		if user, err := v.Verify(raw); err == nil {
			t.Fatalf("fuzzed token accepted for %q: %q", user, raw)
		}
	})
}

func TestJWTBearerGrant(t *testing.T) {
	k := newSiteKeys(t)
	h, checker := newTokenHandler(t, false)
	var err error
	h.Assertions, err = NewAssertionVerifier(AssertionConfig{Issuer: "https://site.example", Audience: "sparkweb", PublicKeyFiles: []string{k.edFile}})
	if err != nil {
		t.Fatal(err)
	}
	claims := func(sub string, exp time.Duration) jwt.MapClaims {
		return jwt.MapClaims{"iss": "https://site.example", "aud": "sparkweb", "sub": sub, "exp": time.Now().Add(exp).Unix()}
	}
	tests := []struct {
		name, assertion string
		status          int
		code, jid       string
	}{
		{"good", sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims("alice", time.Minute)), 200, "", "alice@example.org"},
		{"other domain", sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims("alice@evil.example", time.Minute)), 400, "invalid_grant", ""},
		{"expired", sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims("alice", -time.Hour)), 400, "invalid_grant", ""},
		{"missing", "", 400, "invalid_request", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/token", strings.NewReader(form("grant_type", GrantJWTBearer, "assertion", tc.assertion)))
			req.Header.Set("Content-Type", formType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var body struct {
				AccessToken string `json:"access_token"`
				Error       string `json:"error"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.status || body.Error != tc.code {
				t.Fatalf("%d %s, want %d %q", rec.Code, rec.Body, tc.status, tc.code)
			}
			if tc.jid != "" {
				if sub, err := h.Authority.Verify(body.AccessToken); err != nil || sub.String() != tc.jid {
					t.Errorf("token for %v (%v), want %s", sub, err, tc.jid)
				}
			}
		})
	}
	if len(checker.got) != 0 {
		t.Errorf("jwt-bearer asked the XMPP server for a password: %v", checker.got)
	}
}
