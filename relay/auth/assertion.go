package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxAssertionSize bounds a site JWT; real ones are a few hundred bytes, RS512 ones about 1 KiB.
const MaxAssertionSize = 4096

// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// AssertionConfig configures the jwt-bearer grant (RFC 7523): which site JWTs are accepted.
type AssertionConfig struct {
	// Issuer and Audience are the required "iss" and "aud".
	Issuer, Audience string
	// HMACSecret verifies HS256/HS384/HS512 tokens.
	HMACSecret []byte
	// PublicKeyFiles are PEM files (PKIX public keys or certificates: RSA, ECDSA, Ed25519).
	// A key's id (matched against "kid" when the token has one) is its file name.
	PublicKeyFiles []string
	// JWKSFile is a JSON Web Key Set file (RFC 7517) with RSA, EC, OKP (Ed25519) or oct keys.
	JWKSFile string
	// Algorithms allowed; every algorithm the configured keys support if empty. "none" is
	// never accepted.
	Algorithms []string
	// Leeway is the allowed clock skew; DefaultLeeway if zero.
	Leeway time.Duration
	// UserClaim names the claim holding the user (a localpart or bare JID); "sub" if empty.
	UserClaim string
	// Now returns the current time; time.Now if nil.
	Now func() time.Time
}

// verificationKey is one configured key with the algorithms it may verify.
type verificationKey struct {
	id   string
	key  any
	algs []string
}

// AssertionVerifier verifies site JWTs. Build it with NewAssertionVerifier; it is safe for
// concurrent use.
type AssertionVerifier struct {
	cfg  AssertionConfig
	keys []verificationKey
	algs []string
}

var (
	hmacAlgs  = []string{"HS256", "HS384", "HS512"}
	rsaAlgs   = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	edAlgs    = []string{"EdDSA"}
	ecAlgsFor = map[string][]string{"P-256": {"ES256"}, "P-384": {"ES384"}, "P-521": {"ES512"}}
)

// NewAssertionVerifier loads the keys of cfg and checks the configuration.
func NewAssertionVerifier(cfg AssertionConfig) (*AssertionVerifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("auth: jwt-bearer needs an issuer and an audience")
	}
	v := &AssertionVerifier{cfg: cfg}
	if v.cfg.Leeway == 0 {
		v.cfg.Leeway = DefaultLeeway
	}
	if v.cfg.UserClaim == "" {
		v.cfg.UserClaim = "sub"
	}
	if v.cfg.Now == nil {
		v.cfg.Now = time.Now
	}
	if len(cfg.HMACSecret) > 0 {
		if len(cfg.HMACSecret) < 32 {
			return nil, errors.New("auth: jwt-bearer HMAC secret: want at least 32 bytes")
		}
		v.keys = append(v.keys, verificationKey{id: "", key: cfg.HMACSecret, algs: hmacAlgs})
	}
	for _, f := range cfg.PublicKeyFiles {
		k, err := loadPEMKey(f)
		if err != nil {
			return nil, fmt.Errorf("auth: jwt-bearer key %s: %w", f, err)
		}
		k.id = strings.TrimSuffix(f[strings.LastIndexAny(f, `/\`)+1:], ".pem")
		v.keys = append(v.keys, k)
	}
	if cfg.JWKSFile != "" {
		ks, err := loadJWKS(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("auth: jwt-bearer JWKS %s: %w", cfg.JWKSFile, err)
		}
		v.keys = append(v.keys, ks...)
	}
	if len(v.keys) == 0 {
		return nil, errors.New("auth: jwt-bearer needs a key: an HMAC secret, public key files or a JWKS file")
	}
	for _, k := range v.keys {
		for _, a := range k.algs {
			if !slices.Contains(v.algs, a) && (len(cfg.Algorithms) == 0 || slices.Contains(cfg.Algorithms, a)) {
				v.algs = append(v.algs, a)
			}
		}
	}
	for _, a := range cfg.Algorithms {
		if jwt.GetSigningMethod(a) == nil || a == "none" {
			return nil, fmt.Errorf("auth: jwt-bearer algorithm %q is not supported", a)
		}
	}
	if len(v.algs) == 0 {
		return nil, fmt.Errorf("auth: jwt-bearer: none of the algorithms %q fits the configured keys", cfg.Algorithms)
	}
	return v, nil
}

// Verify checks raw and returns the user it names. The error text is safe to show the client.
func (v *AssertionVerifier) Verify(raw string) (string, error) {
	if len(raw) > MaxAssertionSize {
		return "", fmt.Errorf("assertion larger than %d bytes", MaxAssertionSize)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, v.keyFor,
		jwt.WithValidMethods(v.algs),
		jwt.WithIssuer(v.cfg.Issuer),
		jwt.WithAudience(v.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.cfg.Leeway),
		jwt.WithTimeFunc(v.cfg.Now),
	)
	if err != nil {
		return "", fmt.Errorf("assertion refused: %w", err)
	}
	user, _ := claims[v.cfg.UserClaim].(string)
	if user == "" {
		return "", fmt.Errorf("assertion refused: claim %q naming the user is missing or not a string", v.cfg.UserClaim)
	}
	return user, nil
}

// keyFor picks the key for t: by kid when the token names one, else the only key that can
// verify its algorithm. A key is only ever used with its own algorithm family, which is what
// stops HS/RS confusion (an RSA public key used as an HMAC secret).
func (v *AssertionVerifier) keyFor(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid, hasKid := t.Header["kid"].(string)
	var fit []verificationKey
	for _, k := range v.keys {
		if slices.Contains(k.algs, alg) && (!hasKid || k.id == "" || k.id == kid) {
			fit = append(fit, k)
		}
	}
	if hasKid {
		// An exact kid match wins over keys without ids (the HMAC secret).
		for _, k := range fit {
			if k.id == kid {
				return k.key, nil
			}
		}
		if len(fit) == 0 {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
	}
	switch len(fit) {
	case 0:
		return nil, fmt.Errorf("no key for algorithm %s", alg)
	case 1:
		return fit[0].key, nil
	}
	// Several candidates and no kid: try them all.
	set := jwt.VerificationKeySet{}
	for _, k := range fit {
		set.Keys = append(set.Keys, k.key)
	}
	return set, nil
}

func loadPEMKey(path string) (verificationKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return verificationKey{}, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return verificationKey{}, errors.New("no PEM block")
	}
	var pub any
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = c.PublicKey
		}
	default:
		return verificationKey{}, fmt.Errorf("PEM block %q: want PUBLIC KEY or CERTIFICATE (never a private key)", block.Type)
	}
	if err != nil {
		return verificationKey{}, err
	}
	return publicKey(pub)
}

// publicKey wraps a parsed public key with the algorithms it may verify.
func publicKey(pub any) (verificationKey, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return verificationKey{}, fmt.Errorf("RSA key of %d bits: want at least 2048", k.N.BitLen())
		}
		return verificationKey{key: k, algs: rsaAlgs}, nil
	case *ecdsa.PublicKey:
		algs, ok := ecAlgsFor[k.Curve.Params().Name]
		if !ok {
			return verificationKey{}, fmt.Errorf("unsupported curve %s", k.Curve.Params().Name)
		}
		return verificationKey{key: k, algs: algs}, nil
	case ed25519.PublicKey:
		return verificationKey{key: k, algs: edAlgs}, nil
	}
	return verificationKey{}, fmt.Errorf("unsupported key type %T", pub)
}

// jwk is the subset of RFC 7517/7518/8037 members the relay reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	K   string `json:"k"`
}

func loadJWKS(path string) ([]verificationKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, err
	}
	var out []verificationKey
	for i, j := range set.Keys {
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		k, err := j.key()
		if err != nil {
			return nil, fmt.Errorf("key %d (%q): %w", i, j.Kid, err)
		}
		k.id = j.Kid
		if j.Alg != "" {
			if !slices.Contains(k.algs, j.Alg) {
				return nil, fmt.Errorf("key %d (%q): alg %s does not fit a %s key", i, j.Kid, j.Alg, j.Kty)
			}
			k.algs = []string{j.Alg}
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("no signature keys")
	}
	return out, nil
}

func (j jwk) key() (verificationKey, error) {
	b := func(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
	switch j.Kty {
	case "RSA":
		n, err1 := b(j.N)
		e, err2 := b(j.E)
		if err := errors.Join(err1, err2); err != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return verificationKey{}, errors.New("bad RSA n or e")
		}
		return publicKey(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())})
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return verificationKey{}, fmt.Errorf("unsupported curve %q", j.Crv)
		}
		x, err1 := b(j.X)
		y, err2 := b(j.Y)
		if err := errors.Join(err1, err2); err != nil {
			return verificationKey{}, errors.New("bad EC x or y")
		}
		// Build the uncompressed point so the standard library checks it is on the curve.
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return verificationKey{}, errors.New("bad EC coordinate length")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return verificationKey{}, err
		}
		return publicKey(pub)
	case "OKP":
		x, err := b(j.X)
		if j.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return verificationKey{}, errors.New("want an Ed25519 OKP key")
		}
		return publicKey(ed25519.PublicKey(x))
	case "oct":
		k, err := b(j.K)
		if err != nil || len(k) < 32 {
			return verificationKey{}, errors.New("oct key: want at least 32 bytes")
		}
		return verificationKey{key: k, algs: hmacAlgs}, nil
	}
	return verificationKey{}, fmt.Errorf("unsupported kty %q", j.Kty)
}
