// Package pushservice is a Web Push service (RFC 8030) for tests, standing in for FCM, Mozilla
// autopush or Apple's service, which tests cannot reach. It does what a real one does with a
// push: it checks the VAPID authorization (RFC 8292: an ES256 JWT for its own origin, not
// expired, with a contact, signed by the key the subscription was made with) and the RFC 8030
// headers, and it decrypts the RFC 8291 aes128gcm body with the subscription's private key, as
// the browser would. Subscribe creates that key pair and auth secret, as pushManager.subscribe()
// does in a browser.
package pushservice

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Push is one push the service accepted.
type Push struct {
	// Subscription is the ID of the subscription it was sent to.
	Subscription string
	// Payload is the decrypted message.
	Payload []byte
	// Received is when its request arrived.
	Received time.Time
	// TTL, Urgency and Topic are the RFC 8030 headers it came with.
	TTL     int
	Urgency string
	Topic   string
	// Subject is the VAPID "sub" claim (the sender's contact).
	Subject string
}

// Subscription is a browser's subscription: the endpoint handed to the application server and
// the keys only the browser knows.
type Subscription struct {
	// ID names it in Push.Subscription.
	ID string
	// Endpoint is the URL pushes are POSTed to.
	Endpoint string
	// P256DH and Auth are the public key and auth secret, base64url, as the browser's
	// PushSubscription.toJSON() gives them.
	P256DH, Auth string

	priv      *ecdh.PrivateKey
	auth      []byte
	serverKey []byte // the applicationServerKey the subscription is bound to
}

// JSON is the subscription as PushSubscription.toJSON() serializes it.
func (s *Subscription) JSON() map[string]any {
	return map[string]any{"endpoint": s.Endpoint, "expirationTime": nil, "keys": map[string]string{"p256dh": s.P256DH, "auth": s.Auth}}
}

// response is a canned answer for one subscription's pushes.
type response struct {
	status     int
	retryAfter string
}

// Service is a running push service on loopback.
type Service struct {
	// Origin is its scheme://host:port, the VAPID audience it requires.
	Origin string

	srv    *httptest.Server
	pushes chan Push

	mu       sync.Mutex
	subs     map[string]*Subscription
	respond  map[string]response
	rejected []error
	counts   map[string]int // requests per subscription, whatever the answer
}

// Start starts a push service that stops when the test ends.
func Start(tb testing.TB) *Service {
	tb.Helper()
	s := &Service{pushes: make(chan Push, 1000), subs: map[string]*Subscription{}, respond: map[string]response{}, counts: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.Origin = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// Subscribe creates a subscription bound to applicationServerKey (the relay's VAPID public key,
// base64url), as pushManager.subscribe({applicationServerKey}) does.
func (s *Service) Subscribe(applicationServerKey string) (*Subscription, error) {
	serverKey, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(applicationServerKey, "="))
	if err != nil {
		return nil, fmt.Errorf("pushservice: applicationServerKey: %w", err)
	}
	if _, err := ecdh.P256().NewPublicKey(serverKey); err != nil {
		return nil, fmt.Errorf("pushservice: applicationServerKey is not a P-256 point: %w", err)
	}
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pushservice: %w", err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	idb := make([]byte, 12)
	_, _ = rand.Read(idb)
	id := hex.EncodeToString(idb)
	sub := &Subscription{ID: id, Endpoint: s.Origin + "/push/" + id,
		P256DH: base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes()), Auth: base64.RawURLEncoding.EncodeToString(auth),
		priv: priv, auth: auth, serverKey: serverKey}
	s.mu.Lock()
	s.subs[id] = sub
	s.mu.Unlock()
	return sub, nil
}

// Respond makes every later push to sub answer status (e.g. 410 Gone, or 429 with retryAfter
// as the Retry-After header) instead of 201; the push is checked but not delivered.
func (s *Service) Respond(sub *Subscription, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.respond[sub.ID] = response{status, retryAfter}
}

// Pushes delivers every push accepted, in arrival order.
func (s *Service) Pushes() <-chan Push { return s.pushes }

// Requests reports how many push requests reached sub's endpoint, accepted or not.
func (s *Service) Requests(sub *Subscription) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[sub.ID]
}

// Rejected returns why each refused request was refused (bad VAPID, headers, encryption).
// A correct application server never sees one.
func (s *Service) Rejected() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.rejected...)
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	id, ok := strings.CutPrefix(r.URL.Path, "/push/")
	s.mu.Lock()
	sub := s.subs[id]
	canned, hasCanned := s.respond[id]
	s.counts[id]++
	s.mu.Unlock()
	if !ok || sub == nil {
		s.reject(w, http.StatusNotFound, fmt.Errorf("%s %s: no such subscription", r.Method, r.URL.Path))
		return
	}
	p, status, err := s.check(r, sub)
	if err != nil {
		s.reject(w, status, err)
		return
	}
	p.Received = received
	if hasCanned {
		if canned.retryAfter != "" {
			w.Header().Set("Retry-After", canned.retryAfter)
		}
		w.WriteHeader(canned.status)
		return
	}
	s.pushes <- p
	w.Header().Set("Location", s.Origin+"/message/"+id)
	w.WriteHeader(http.StatusCreated)
}

func (s *Service) reject(w http.ResponseWriter, status int, err error) {
	s.mu.Lock()
	s.rejected = append(s.rejected, err)
	s.mu.Unlock()
	http.Error(w, err.Error(), status)
}

var topicRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// check verifies one push request and decrypts it; on failure it returns the status to answer.
func (s *Service) check(r *http.Request, sub *Subscription) (Push, int, error) {
	var p Push
	p.Subscription = sub.ID
	if r.Method != http.MethodPost {
		return p, http.StatusMethodNotAllowed, fmt.Errorf("method %s, want POST", r.Method)
	}
	subject, err := VerifyVAPID(r.Header.Get("Authorization"), s.Origin, sub.serverKey, time.Now())
	if err != nil {
		return p, http.StatusUnauthorized, err
	}
	p.Subject = subject
	ttl, err := strconv.Atoi(r.Header.Get("TTL"))
	if err != nil || ttl < 0 {
		return p, http.StatusBadRequest, fmt.Errorf("TTL header %q: want a non-negative integer (RFC 8030 §5.2)", r.Header.Get("TTL"))
	}
	p.TTL = ttl
	switch p.Urgency = r.Header.Get("Urgency"); p.Urgency {
	case "", "very-low", "low", "normal", "high":
	default:
		return p, http.StatusBadRequest, fmt.Errorf("urgency %q is not one of RFC 8030's", p.Urgency)
	}
	if p.Topic = r.Header.Get("Topic"); p.Topic != "" && !topicRE.MatchString(p.Topic) {
		return p, http.StatusBadRequest, fmt.Errorf("topic %q: want at most 32 base64url characters (RFC 8030 §5.4)", p.Topic)
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		return p, http.StatusUnsupportedMediaType, fmt.Errorf("content encoding %q, want aes128gcm", ce)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4097))
	if err != nil {
		return p, http.StatusBadRequest, fmt.Errorf("read body: %w", err)
	}
	if len(body) > 4096 {
		return p, http.StatusRequestEntityTooLarge, errors.New("body over 4096 bytes (RFC 8030 §7.2 lets services refuse it)")
	}
	if p.Payload, err = Decrypt(body, sub.priv, sub.auth); err != nil {
		return p, http.StatusBadRequest, err
	}
	return p, 0, nil
}

// VerifyVAPID checks an RFC 8292 "vapid t=JWT, k=KEY" authorization: the key must be
// serverKey, the JWT an ES256 one signed by it, for audience origin, expiring within 24 hours
// of now, with a mailto: or https: subject, which it returns.
func VerifyVAPID(header, origin string, serverKey []byte, now time.Time) (string, error) {
	scheme, params, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "vapid") {
		return "", fmt.Errorf("authorization %q: want the vapid scheme (RFC 8292 §3)", header)
	}
	var token, key string
	for _, kv := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "t":
			token = v
		case "k":
			key = v
		}
	}
	k, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(key, "="))
	if err != nil || !bytes.Equal(k, serverKey) {
		return "", fmt.Errorf("vapid k=%q is not the key the subscription was made with", key)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("vapid t: not a JWS compact serialization")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil || hdr.Alg != "ES256" {
		return "", fmt.Errorf("vapid JWT header: alg %q (%v), want ES256", hdr.Alg, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return "", errors.New("vapid JWT: signature is not 64 bytes of r||s")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), serverKey)
	if err != nil {
		return "", fmt.Errorf("vapid k: %w", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "", errors.New("vapid JWT: bad signature")
	}
	var claims struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return "", fmt.Errorf("vapid JWT claims: %w", err)
	}
	switch exp := time.Unix(claims.Exp, 0); {
	case claims.Aud != origin:
		return "", fmt.Errorf("vapid JWT aud %q, want this service's origin %q", claims.Aud, origin)
	case !exp.After(now):
		return "", fmt.Errorf("vapid JWT expired at %v", exp)
	case exp.After(now.Add(24 * time.Hour)):
		return "", fmt.Errorf("vapid JWT exp %v is more than 24 hours ahead (RFC 8292 §2)", exp)
	case !strings.HasPrefix(claims.Sub, "mailto:") && !strings.HasPrefix(claims.Sub, "https:"):
		return "", fmt.Errorf("vapid JWT sub %q: want a mailto: or https: contact", claims.Sub)
	}
	return claims.Sub, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Decrypt decrypts an RFC 8188 aes128gcm body with the RFC 8291 keys of a subscription: the
// browser's private key and auth secret.
func Decrypt(body []byte, priv *ecdh.PrivateKey, auth []byte) ([]byte, error) {
	// Header: salt(16) | rs(4) | idlen(1) | keyid(idlen) = the sender's ephemeral public key.
	if len(body) < 21 {
		return nil, errors.New("aes128gcm: body shorter than its header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idlen || rs < 18 {
		return nil, errors.New("aes128gcm: truncated header or record size under 18")
	}
	senderKey, err := ecdh.P256().NewPublicKey(body[21 : 21+idlen])
	if err != nil {
		return nil, fmt.Errorf("aes128gcm: keyid is not the sender's P-256 public key: %w", err)
	}
	shared, err := priv.ECDH(senderKey)
	if err != nil {
		return nil, fmt.Errorf("aes128gcm: ECDH: %w", err)
	}
	// RFC 8291 §3.4: IKM = HKDF(auth, ecdh, "WebPush: info" 0x00 ua_public as_public, 32).
	info := append(append([]byte("WebPush: info\x00"), priv.PublicKey().Bytes()...), senderKey.Bytes()...)
	ikm, err := hkdf.Key(sha256.New, shared, auth, string(info), 32)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	records := body[21+idlen:]
	var out []byte
	for seq := uint64(0); len(records) > 0; seq++ {
		n := min(int(rs), len(records))
		rec := records[:n]
		records = records[n:]
		// RFC 8188 §2.3: the record nonce is the base nonce XOR the sequence number.
		iv := bytes.Clone(nonce)
		for i := range 8 {
			iv[11-i] ^= byte(seq >> (8 * i))
		}
		plain, err := gcm.Open(nil, iv, rec, nil)
		if err != nil {
			return nil, fmt.Errorf("aes128gcm: record %d does not decrypt: %w", seq, err)
		}
		// Strip the padding: trailing zeros, then the delimiter (2 on the last record, 1 before).
		i := len(plain) - 1
		for i >= 0 && plain[i] == 0 {
			i--
		}
		last := len(records) == 0
		switch {
		case i < 0:
			return nil, fmt.Errorf("aes128gcm: record %d has no padding delimiter", seq)
		case last && plain[i] != 2, !last && plain[i] != 1:
			return nil, fmt.Errorf("aes128gcm: record %d has delimiter %d", seq, plain[i])
		}
		out = append(out, plain[:i]...)
	}
	return out, nil
}
