// Package store is the relay's durable state in one bbolt file: the token signing keys, the
// refresh tokens (kept only as hashes), the VAPID key and the Web Push registrations. bbolt locks the file, so a second relay pointed at
// the same file fails to open it instead of corrupting it.
package store

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultLockTimeout is how long Open waits for another process to release the file.
const DefaultLockTimeout = 2 * time.Second

// Errors the store returns; match them with errors.Is.
var (
	// ErrLocked means another process (another relay) has the file open.
	ErrLocked = errors.New("store is in use by another process")
	// ErrNotFound means no such refresh token.
	ErrNotFound = errors.New("not found")
	// ErrReused means a refresh token was presented a second time: a sign it was stolen. Its
	// whole family has been revoked.
	ErrReused = errors.New("refresh token reused; its family is revoked")
	// ErrExpired means the refresh token is past its expiry.
	ErrExpired = errors.New("refresh token expired")
)

var (
	bucketKeys    = []byte("signing_keys")
	bucketMeta    = []byte("meta")
	bucketRefresh = []byte("refresh_tokens")
	keyCurrent    = []byte("current_signing_key")
)

// Store is an open store file. It is safe for concurrent use.
type Store struct {
	db *bolt.DB
}

// Open opens or creates the store at path. If another process holds the file it waits up to
// lockTimeout (DefaultLockTimeout if zero) and then fails with an error wrapping ErrLocked.
func Open(path string, lockTimeout time.Duration) (*Store, error) {
	if lockTimeout <= 0 {
		lockTimeout = DefaultLockTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: %w (waited %v for its lock)", path, ErrLocked, lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketKeys, bucketMeta, bucketRefresh, bucketPushUsers, bucketPushNodes} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close releases the file and its lock.
func (s *Store) Close() error { return s.db.Close() }

// SigningKey is an ES256 key that signs relay JWTs.
type SigningKey struct {
	// ID is the JWT "kid".
	ID string
	// Private is the P-256 key.
	Private *ecdsa.PrivateKey
	// Created is when it was generated.
	Created time.Time
}

type storedKey struct {
	PKCS8   []byte    `json:"pkcs8"`
	Created time.Time `json:"created"`
}

// NewSigningKey generates a P-256 key; its ID is derived from the public key.
func NewSigningKey(now time.Time) (SigningKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return SigningKey{}, fmt.Errorf("store: generate key: %w", err)
	}
	return signingKey(k, now)
}

func signingKey(k *ecdsa.PrivateKey, created time.Time) (SigningKey, error) {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return SigningKey{}, fmt.Errorf("store: encode public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return SigningKey{ID: base64.RawURLEncoding.EncodeToString(sum[:12]), Private: k, Created: created.UTC()}, nil
}

// SigningKeys returns the current key first, then the older ones still kept for verifying
// tokens they signed. It returns no keys (and no error) for a fresh store.
func (s *Store) SigningKeys() ([]SigningKey, error) {
	var keys []SigningKey
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketMeta).Get(keyCurrent)
		return tx.Bucket(bucketKeys).ForEach(func(id, v []byte) error {
			var sk storedKey
			if err := json.Unmarshal(v, &sk); err != nil {
				return fmt.Errorf("key %s: %w", id, err)
			}
			priv, err := x509.ParsePKCS8PrivateKey(sk.PKCS8)
			if err != nil {
				return fmt.Errorf("key %s: %w", id, err)
			}
			ec, ok := priv.(*ecdsa.PrivateKey)
			if !ok || ec.Curve != elliptic.P256() {
				return fmt.Errorf("key %s: not a P-256 key", id)
			}
			k := SigningKey{ID: string(id), Private: ec, Created: sk.Created}
			if bytes.Equal(id, cur) {
				keys = append([]SigningKey{k}, keys...)
			} else {
				keys = append(keys, k)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: read signing keys: %w", err)
	}
	return keys, nil
}

// RotateSigningKey makes k the current key. The previous current key is kept for verification
// (tokens it signed stay valid until they expire); keys older than that are deleted.
func (s *Store) RotateSigningKey(k SigningKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return fmt.Errorf("store: encode key: %w", err)
	}
	v, err := json.Marshal(storedKey{PKCS8: der, Created: k.Created})
	if err != nil {
		return fmt.Errorf("store: encode key: %w", err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		keys, meta := tx.Bucket(bucketKeys), tx.Bucket(bucketMeta)
		prev := bytes.Clone(meta.Get(keyCurrent))
		var drop [][]byte
		_ = keys.ForEach(func(id, _ []byte) error {
			if !bytes.Equal(id, prev) {
				drop = append(drop, bytes.Clone(id))
			}
			return nil
		})
		for _, id := range drop {
			if err := keys.Delete(id); err != nil {
				return err
			}
		}
		if err := keys.Put([]byte(k.ID), v); err != nil {
			return err
		}
		return meta.Put(keyCurrent, []byte(k.ID))
	})
	if err != nil {
		return fmt.Errorf("store: save signing key: %w", err)
	}
	return nil
}

// EnsureSigningKeys returns the stored keys, generating and storing a first one if there is none.
func (s *Store) EnsureSigningKeys(now time.Time) ([]SigningKey, error) {
	keys, err := s.SigningKeys()
	if err != nil || len(keys) > 0 {
		return keys, err
	}
	k, err := NewSigningKey(now)
	if err != nil {
		return nil, err
	}
	if err := s.RotateSigningKey(k); err != nil {
		return nil, err
	}
	return s.SigningKeys()
}

// RefreshToken is a stored refresh token. The token itself is never stored: only its SHA-256.
type RefreshToken struct {
	// Family is shared by a token and all its rotations; revoking it ends them all.
	Family string `json:"family"`
	// JID is the bare JID the token grants access for.
	JID string `json:"jid"`
	// Expires ends the token (and its rotations do not outlive the family's first expiry).
	Expires time.Time `json:"expires"`
	// Used is set once the token has been exchanged.
	Used bool `json:"used"`
}

// HashToken is how a refresh token is keyed: an unsalted hash is enough because the token is
// 256 random bits, never a guessable secret.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// PutRefresh stores a new refresh token under the hash of token.
func (s *Store) PutRefresh(token string, rt RefreshToken) error {
	v, err := json.Marshal(rt)
	if err != nil {
		return fmt.Errorf("store: encode refresh token: %w", err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRefresh).Put(HashToken(token), v)
	}); err != nil {
		return fmt.Errorf("store: save refresh token: %w", err)
	}
	return nil
}

// UseRefresh exchanges token once: it marks it used and returns it. A token already used
// revokes its whole family and returns ErrReused; an expired one is deleted (ErrExpired).
func (s *Store) UseRefresh(token string, now time.Time) (RefreshToken, error) {
	var rt RefreshToken
	var result error
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRefresh)
		h := HashToken(token)
		v := b.Get(h)
		if v == nil {
			result = ErrNotFound
			return nil
		}
		if err := json.Unmarshal(v, &rt); err != nil {
			return fmt.Errorf("decode refresh token: %w", err)
		}
		switch {
		case rt.Used:
			result = ErrReused
			return revokeFamily(b, rt.Family)
		case !now.Before(rt.Expires):
			result = ErrExpired
			return b.Delete(h)
		}
		rt.Used = true
		nv, err := json.Marshal(rt)
		if err != nil {
			return err
		}
		return b.Put(h, nv)
	})
	if err != nil {
		return RefreshToken{}, fmt.Errorf("store: use refresh token: %w", err)
	}
	if result != nil {
		return rt, fmt.Errorf("store: %w", result)
	}
	return rt, nil
}

// RevokeRefresh revokes the family of token; an unknown token is not an error (RFC 7009 §2.2).
func (s *Store) RevokeRefresh(token string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRefresh)
		v := b.Get(HashToken(token))
		if v == nil {
			return nil
		}
		var rt RefreshToken
		if err := json.Unmarshal(v, &rt); err != nil {
			return err
		}
		return revokeFamily(b, rt.Family)
	})
	if err != nil {
		return fmt.Errorf("store: revoke refresh token: %w", err)
	}
	return nil
}

// PruneRefresh deletes expired refresh tokens and reports how many went.
func (s *Store) PruneRefresh(now time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRefresh)
		var drop [][]byte
		_ = b.ForEach(func(k, v []byte) error {
			var rt RefreshToken
			if json.Unmarshal(v, &rt) != nil || !now.Before(rt.Expires) {
				drop = append(drop, bytes.Clone(k))
			}
			return nil
		})
		for _, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(drop)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune refresh tokens: %w", err)
	}
	return n, nil
}

// revokeFamily deletes every token of family. A scan is fine: the bucket holds one live token
// per signed-in device, and revocation is rare.
func revokeFamily(b *bolt.Bucket, family string) error {
	var drop [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var rt RefreshToken
		if json.Unmarshal(v, &rt) == nil && rt.Family == family {
			drop = append(drop, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range drop {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
