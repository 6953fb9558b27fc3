package pushservice_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/sparkweb/sparkweb/testenv/pushservice"
)

// TestService sends with webpush-go, an independent implementation, and checks that the
// service accepts and decrypts what is right and refuses what is wrong.
func TestService(t *testing.T) {
	ps := pushservice.Start(t)
	priv, pub := vapidKeys(t)
	sub, err := ps.Subscribe(pub)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPub := vapidKeys(t)
	other, err := ps.Subscribe(otherPub)
	if err != nil {
		t.Fatal(err)
	}
	send := func(s *pushservice.Subscription, msg string, o webpush.Options) int {
		t.Helper()
		o.VAPIDPublicKey, o.VAPIDPrivateKey = pub, priv
		if o.Subscriber == "" {
			o.Subscriber = "ops@example.org"
		}
		resp, err := webpush.SendNotification([]byte(msg), &webpush.Subscription{Endpoint: s.Endpoint, Keys: webpush.Keys{P256dh: s.P256DH, Auth: s.Auth}}, &o)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(sub, `{"hello":"wörld"}`, webpush.Options{TTL: 60, Urgency: webpush.UrgencyHigh, Topic: "abc"}); code != http.StatusCreated {
		t.Fatalf("good push: HTTP %d; rejected %v", code, ps.Rejected())
	}
	p := <-ps.Pushes()
	if string(p.Payload) != `{"hello":"wörld"}` || p.TTL != 60 || p.Urgency != "high" || p.Topic != "abc" || p.Subject != "mailto:ops@example.org" {
		t.Errorf("push = %+v", p)
	}
	// Signed with a key the subscription was not made with.
	if code := send(other, "x", webpush.Options{TTL: 60}); code != http.StatusUnauthorized {
		t.Errorf("wrong VAPID key: HTTP %d, want 401", code)
	}
	if code := send(sub, "x", webpush.Options{TTL: 60, Topic: strings.Repeat("t", 40)}); code != http.StatusBadRequest {
		t.Errorf("long topic: HTTP %d, want 400", code)
	}
	if n := len(ps.Rejected()); n != 2 {
		t.Errorf("rejected %d, want 2", n)
	}
	ps.Respond(sub, http.StatusGone, "")
	if code := send(sub, "x", webpush.Options{TTL: 60}); code != http.StatusGone {
		t.Errorf("after Respond(410): HTTP %d", code)
	}
}

func TestDecryptRefusesTampering(t *testing.T) {
	// A body that is not aes128gcm at all, and one too short.
	for _, body := range [][]byte{make([]byte, 10), append(make([]byte, 21), 65)} {
		if _, err := pushservice.Decrypt(body, nil, nil); err == nil {
			t.Errorf("Decrypt(%d bytes of zeros) succeeded", len(body))
		}
	}
}

func vapidKeys(t *testing.T) (priv, pub string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := k.Bytes()
	p, _ := k.PublicKey.Bytes()
	return base64.RawURLEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(p)
}

func TestVerifyVAPIDClaims(t *testing.T) {
	if _, err := pushservice.VerifyVAPID("WebPush abc", "http://x", nil, time.Now()); err == nil {
		t.Error("non-vapid scheme accepted")
	}
}
