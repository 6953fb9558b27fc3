// Package scram is a SCRAM client (RFC 5802, RFC 7677) for mellium's SASL negotiation that can
// log in again without the password.
//
// After a login with the password it hands back the salted password for the server's salt and
// iteration count; a later login with those Keys needs no password, so the engine never keeps
// it. The salted password only works against this account on this server, and only until the
// password changes, when the server's salt changes and the Keys go stale. Channel binding
// (-PLUS) is never offered: a browser has no access to the TLS channel.
package scram

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"mellium.im/sasl"
)

// Keys let a client prove it knows the password without having it.
type Keys struct {
	Mechanism      string `json:"mechanism"`
	Salt           []byte `json:"salt"`
	Iterations     int    `json:"iterations"`
	SaltedPassword []byte `json:"saltedPassword"`
}

// ErrStaleKeys means the server asked for a salt or iteration count the Keys were not made
// with: the password changed, so the user must type it again.
var ErrStaleKeys = errors.New("scram: stored keys do not match the server's salt; the password is needed")

// Mechanisms returns SCRAM-SHA-256 and SCRAM-SHA-1, in order of preference. With a password
// they use it; otherwise they use keys. Each successful login calls got with the Keys it used.
func Mechanisms(password string, keys *Keys, got func(Keys)) []sasl.Mechanism {
	return []sasl.Mechanism{
		mechanism("SCRAM-SHA-256", sha256.New, password, keys, got),
		mechanism("SCRAM-SHA-1", sha1.New, password, keys, got),
	}
}

type exchange struct {
	clientFirstBare string
	nonce           string
	authMessage     string
	serverSignature []byte
	keys            Keys
}

func mechanism(name string, h func() hash.Hash, password string, keys *Keys, got func(Keys)) sasl.Mechanism {
	return sasl.Mechanism{
		Name: name,
		Start: func(n *sasl.Negotiator) (bool, []byte, interface{}, error) {
			user, _, _ := n.Credentials()
			var raw [18]byte
			if _, err := rand.Read(raw[:]); err != nil {
				return false, nil, nil, fmt.Errorf("scram: nonce: %w", err)
			}
			x := &exchange{nonce: base64.RawStdEncoding.EncodeToString(raw[:])}
			x.clientFirstBare = "n=" + escape(string(user)) + ",r=" + x.nonce
			return true, []byte("n,," + x.clientFirstBare), x, nil
		},
		Next: func(n *sasl.Negotiator, challenge []byte, data interface{}) (bool, []byte, interface{}, error) {
			x, ok := data.(*exchange)
			if !ok {
				return false, nil, nil, errors.New("scram: no exchange in progress")
			}
			if x.authMessage == "" {
				resp, err := x.clientFinal(name, h, challenge, password, keys)
				return true, resp, x, err
			}
			// Server final: verify the server knows the password too (mutual authentication).
			attrs := parse(string(challenge))
			if e, ok := attrs["e"]; ok {
				return false, nil, nil, fmt.Errorf("scram: server error %q", e)
			}
			v, err := base64.StdEncoding.DecodeString(attrs["v"])
			if err != nil || !hmac.Equal(v, x.serverSignature) {
				return false, nil, nil, errors.New("scram: server signature does not verify")
			}
			if got != nil {
				got(x.keys)
			}
			return false, nil, nil, nil
		},
	}
}

func (x *exchange) clientFinal(name string, h func() hash.Hash, serverFirst []byte, password string, keys *Keys) ([]byte, error) {
	attrs := parse(string(serverFirst))
	if _, ok := attrs["m"]; ok {
		return nil, errors.New("scram: server requires an unsupported extension")
	}
	r := attrs["r"]
	if !strings.HasPrefix(r, x.nonce) || len(r) == len(x.nonce) {
		return nil, errors.New("scram: server nonce does not extend ours")
	}
	salt, err := base64.StdEncoding.DecodeString(attrs["s"])
	if err != nil || len(salt) == 0 {
		return nil, errors.New("scram: bad salt")
	}
	iter, err := strconv.Atoi(attrs["i"])
	if err != nil || iter < 1 {
		return nil, errors.New("scram: bad iteration count")
	}
	var salted []byte
	switch {
	case password != "":
		salted, err = pbkdf2.Key(h, password, salt, iter, h().Size())
		if err != nil {
			return nil, fmt.Errorf("scram: %w", err)
		}
	case keys != nil && keys.Mechanism == name && keys.Iterations == iter && bytes.Equal(keys.Salt, salt):
		salted = keys.SaltedPassword
	default:
		return nil, ErrStaleKeys
	}
	clientKey := mac(h, salted, "Client Key")
	storedKey := h()
	storedKey.Write(clientKey)
	withoutProof := "c=biws,r=" + r // biws = base64("n,,"): no channel binding, no authzid
	x.authMessage = x.clientFirstBare + "," + string(serverFirst) + "," + withoutProof
	signature := mac(h, storedKey.Sum(nil), x.authMessage)
	proof := make([]byte, len(clientKey))
	subtle.XORBytes(proof, clientKey, signature)
	x.serverSignature = mac(h, mac(h, salted, "Server Key"), x.authMessage)
	x.keys = Keys{Mechanism: name, Salt: salt, Iterations: iter, SaltedPassword: salted}
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

func mac(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// parse reads "k=v,k=v" attributes; values may contain '='.
func parse(s string) map[string]string {
	attrs := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && len(k) == 1 {
			attrs[k] = v
		}
	}
	return attrs
}

// escape encodes a username as RFC 5802 saslname.
func escape(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}
