package store

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	// bucketPushUsers maps a bare JID to its PushRegistration (JSON).
	bucketPushUsers = []byte("push_users")
	// bucketPushNodes maps an XEP-0357 node to the bare JID that owns it.
	bucketPushNodes = []byte("push_nodes")
	keyVAPID        = []byte("push_vapid_key")
)

// PushSubscription is one browser's Web Push subscription (the W3C PushSubscription).
type PushSubscription struct {
	// Endpoint is the push service URL the relay POSTs to.
	Endpoint string `json:"endpoint"`
	// P256DH is the browser's P-256 public key (base64url, uncompressed point).
	P256DH string `json:"p256dh"`
	// Auth is the browser's 16-byte authentication secret (base64url).
	Auth string `json:"auth"`
	// Created is when it was last registered.
	Created time.Time `json:"created"`
}

// PushRegistration is one account's XEP-0357 registration: the node and secret its XMPP server
// publishes with, and the subscriptions every publication fans out to.
type PushRegistration struct {
	// JID is the account's bare JID.
	JID string `json:"jid"`
	// Node is the XEP-0357 node: random, so it tells nothing about the account.
	Node string `json:"node"`
	// Secret is checked against the publish-options of each publication.
	Secret string `json:"secret"`
	// Subscriptions are the account's browsers, oldest first.
	Subscriptions []PushSubscription `json:"subscriptions"`
}

// Upsert adds sub, or replaces the subscription with the same endpoint (its keys may have
// changed). Beyond max subscriptions (if max > 0) the oldest are evicted and returned: a device
// that has not registered for the longest time is the likeliest to be gone.
func (r *PushRegistration) Upsert(sub PushSubscription, max int) (evicted []PushSubscription) {
	r.Subscriptions = slices.DeleteFunc(r.Subscriptions, func(s PushSubscription) bool { return s.Endpoint == sub.Endpoint })
	r.Subscriptions = append(r.Subscriptions, sub)
	if max > 0 && len(r.Subscriptions) > max {
		n := len(r.Subscriptions) - max
		evicted = slices.Clone(r.Subscriptions[:n])
		r.Subscriptions = slices.Delete(r.Subscriptions, 0, n)
	}
	return evicted
}

// Remove deletes the subscription with endpoint and reports whether there was one.
func (r *PushRegistration) Remove(endpoint string) bool {
	n := len(r.Subscriptions)
	r.Subscriptions = slices.DeleteFunc(r.Subscriptions, func(s PushSubscription) bool { return s.Endpoint == endpoint })
	return len(r.Subscriptions) < n
}

// PushVAPIDKey returns the relay's VAPID key (P-256), generating and storing it on first use:
// browsers bind their subscriptions to it, so it must never change.
func (s *Store) PushVAPIDKey() (*ecdsa.PrivateKey, error) {
	var key *ecdsa.PrivateKey
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if der := meta.Get(keyVAPID); der != nil {
			k, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				return fmt.Errorf("decode: %w", err)
			}
			ec, ok := k.(*ecdsa.PrivateKey)
			if !ok || ec.Curve != elliptic.P256() {
				return errors.New("not a P-256 key")
			}
			key = ec
			return nil
		}
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		key = k
		return meta.Put(keyVAPID, der)
	})
	if err != nil {
		return nil, fmt.Errorf("store: VAPID key: %w", err)
	}
	return key, nil
}

// PushSubscribe adds sub to the registration of jid, creating the registration with a node and
// secret from newNode if jid has none. It returns the registration and any subscriptions
// evicted to stay within max (see PushRegistration.Upsert).
func (s *Store) PushSubscribe(jid string, sub PushSubscription, max int, newNode func() (node, secret string)) (PushRegistration, []PushSubscription, error) {
	var (
		reg     PushRegistration
		evicted []PushSubscription
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		users, nodes := tx.Bucket(bucketPushUsers), tx.Bucket(bucketPushNodes)
		if v := users.Get([]byte(jid)); v != nil {
			if err := json.Unmarshal(v, &reg); err != nil {
				return fmt.Errorf("decode registration of %s: %w", jid, err)
			}
		} else {
			reg = PushRegistration{JID: jid}
			reg.Node, reg.Secret = newNode()
			if nodes.Get([]byte(reg.Node)) != nil {
				return errors.New("node collision") // 128 random bits: never in practice
			}
			if err := nodes.Put([]byte(reg.Node), []byte(jid)); err != nil {
				return err
			}
		}
		evicted = reg.Upsert(sub, max)
		return putRegistration(users, reg)
	})
	if err != nil {
		return PushRegistration{}, nil, fmt.Errorf("store: push subscribe: %w", err)
	}
	return reg, evicted, nil
}

// PushUnsubscribe removes the subscription with endpoint from jid's registration. It reports
// whether there was one and how many remain; the registration itself (node and secret) goes
// with its last subscription, so later publications to the node are refused.
func (s *Store) PushUnsubscribe(jid, endpoint string) (found bool, remaining int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		users, nodes := tx.Bucket(bucketPushUsers), tx.Bucket(bucketPushNodes)
		v := users.Get([]byte(jid))
		if v == nil {
			return nil
		}
		var reg PushRegistration
		if err := json.Unmarshal(v, &reg); err != nil {
			return fmt.Errorf("decode registration of %s: %w", jid, err)
		}
		if found = reg.Remove(endpoint); !found {
			remaining = len(reg.Subscriptions)
			return nil
		}
		remaining = len(reg.Subscriptions)
		if remaining == 0 {
			if err := nodes.Delete([]byte(reg.Node)); err != nil {
				return err
			}
			return users.Delete([]byte(jid))
		}
		return putRegistration(users, reg)
	})
	if err != nil {
		return false, 0, fmt.Errorf("store: push unsubscribe: %w", err)
	}
	return found, remaining, nil
}

// PushByNode returns the registration that owns node, or an error wrapping ErrNotFound.
func (s *Store) PushByNode(node string) (PushRegistration, error) {
	var reg PushRegistration
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		jid := tx.Bucket(bucketPushNodes).Get([]byte(node))
		if jid == nil {
			return nil
		}
		v := tx.Bucket(bucketPushUsers).Get(jid)
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &reg)
	})
	if err != nil {
		return PushRegistration{}, fmt.Errorf("store: push node: %w", err)
	}
	if !found {
		return PushRegistration{}, fmt.Errorf("store: push node: %w", ErrNotFound)
	}
	return reg, nil
}

func putRegistration(users *bolt.Bucket, reg PushRegistration) error {
	v, err := json.Marshal(reg)
	if err != nil {
		return err
	}
	return users.Put([]byte(reg.JID), v)
}
