package push

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/sparkweb/sparkweb/relay/store"
)

const (
	// genericBody is shown when the server does not include the message text.
	genericBody = "New message"
	// maxPayload keeps the JSON inside one 4096-byte aes128gcm record (86 bytes of header,
	// 16 of tag, 1 of delimiter), the size every push service accepts.
	maxPayload = 3900
	// Retry-After handling for 429: the default when absent, and the longest we honour.
	defaultRetryAfter = time.Minute
	maxRetryAfter     = time.Hour
	// dedupeWindow is how long an identical summary for the same node counts as a duplicate.
	dedupeWindow = 3 * time.Second
)

// Payload is the JSON the service worker receives in the push event.
type Payload struct {
	// Type is "message".
	Type string `json:"type"`
	// From is the sender's bare JID, when the server includes it.
	From string `json:"from,omitempty"`
	// Body is the last message's text, the server's placeholder, or "New message".
	Body string `json:"body"`
	// Count is the number of new messages.
	Count int `json:"count"`
}

// dispatch sends n to every subscription of reg, unless the user has a live bridge.
func (s *Service) dispatch(ctx context.Context, reg store.PushRegistration, n *Notification) {
	if n == nil {
		s.log.Debug("push: publication without a message; nothing to show", "jid", reg.JID)
		return
	}
	if s.duplicate(reg.Node, n) {
		s.log.Debug("push: same summary again; already pushed", "jid", reg.JID)
		return
	}
	if s.cfg.Live(reg.JID) {
		// A tab of this user is connected and shows the message already.
		s.stats.Suppressed.Add(1)
		s.log.Debug("push: suppressed, user has a live tab", "jid", reg.JID)
		return
	}
	msg := encodePayload(n)
	topic := topicFor(n.Sender)
	for _, sub := range reg.Subscriptions {
		s.inflight.Add(1)
		go func() {
			defer s.inflight.Done()
			s.send(ctx, reg.JID, sub, msg, topic)
		}()
	}
}

// encodePayload makes the push JSON, shortening the body until it fits one record.
func encodePayload(n *Notification) []byte {
	p := Payload{Type: "message", From: n.Sender, Body: n.Body, Count: n.Count}
	if p.Body == "" {
		p.Body = genericBody
	}
	for {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // "<" as \u003c would cost 6 bytes for nothing
		_ = enc.Encode(p)
		if b.Len() <= maxPayload || p.Body == "" {
			return bytes.TrimSpace(b.Bytes())
		}
		p.Body = truncate(p.Body, len(p.Body)/2) + "…"
	}
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:min(n, len(s))]
}

// topicFor makes the RFC 8030 Topic of a conversation: a push service keeps only the latest
// undelivered push per topic, so an offline phone gets one notification per chat, not one per
// message. The topic is at most 32 base64url characters, and a hash so it does not reveal
// the JID to the push service.
func topicFor(sender string) string {
	sum := sha256.Sum256([]byte("sparkweb-topic:" + sender))
	return base64.RawURLEncoding.EncodeToString(sum[:24]) // 32 characters
}

// send delivers one push and acts on the push service's answer.
func (s *Service) send(ctx context.Context, jid string, sub store.PushSubscription, msg []byte, topic string) {
	origin := originOf(sub.Endpoint)
	if until := s.blockedUntil(origin); time.Now().Before(until) {
		count(&s.stats.Failed, "rate_limited")
		s.log.Info("push: not sent, push service asked to back off", "jid", jid, "service", origin, "until", until)
		return
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		count(&s.stats.Failed, "shutdown")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	resp, err := webpush.SendNotificationWithContext(ctx, msg,
		&webpush.Subscription{Endpoint: sub.Endpoint, Keys: webpush.Keys{P256dh: sub.P256DH, Auth: sub.Auth}},
		&webpush.Options{
			HTTPClient:      s.client,
			Subscriber:      strings.TrimPrefix(s.cfg.Subscriber, "mailto:"), // webpush-go adds mailto: itself
			Topic:           topic,
			TTL:             int(s.cfg.TTL / time.Second), // webpush-go's default is 0: dropped unless online
			Urgency:         webpush.UrgencyHigh,
			VAPIDPublicKey:  s.vapidPub,
			VAPIDPrivateKey: s.vapidPriv,
		})
	if err != nil {
		count(&s.stats.Failed, "network")
		s.log.Warn("push: send failed", "jid", jid, "service", origin, "err", err)
		return
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_ = resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		s.stats.Sent.Add(1)
		s.log.Debug("push: sent", "jid", jid, "service", origin, "status", code)
	case code == http.StatusNotFound || code == http.StatusGone:
		// The browser unsubscribed or the subscription expired: it will never work again.
		count(&s.stats.Failed, "gone")
		if _, _, err := s.cfg.Store.PushUnsubscribe(jid, sub.Endpoint); err != nil {
			s.log.Error("push: remove gone subscription", "jid", jid, "err", err)
			return
		}
		s.stats.Removed.Add(1)
		s.log.Info("push: subscription gone, removed", "jid", jid, "service", origin, "status", code)
	case code == http.StatusTooManyRequests:
		count(&s.stats.Failed, "rate_limited")
		until := time.Now().Add(retryAfter(resp.Header.Get("Retry-After"), time.Now()))
		s.blockUntil(origin, until)
		s.log.Warn("push: push service rate-limits us", "service", origin, "until", until)
	case code == http.StatusRequestEntityTooLarge:
		count(&s.stats.Failed, "too_large")
		s.log.Error("push: payload too large for the push service", "service", origin, "bytes", len(msg))
	case code >= 400 && code < 500:
		// 400/401/403: most often a VAPID key the subscription was not made with.
		count(&s.stats.Failed, "rejected")
		s.log.Warn("push: push service refused", "jid", jid, "service", origin, "status", code, "body", string(snippet))
	default:
		count(&s.stats.Failed, "service_error")
		s.log.Warn("push: push service failed", "jid", jid, "service", origin, "status", code)
	}
}

// duplicate reports whether the same summary was published for node within dedupeWindow.
// Servers publish once per session that enabled push: an account with two hibernated browsers
// gets two publications for one message (Prosody does), and the relay fans each out to every
// subscription already.
func (s *Service) duplicate(node string, n *Notification) bool {
	sum := sha256.Sum256([]byte(n.Sender + "\x00" + n.Body + "\x00" + strconv.Itoa(n.Count)))
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, r := range s.recent { // keep the map to the last few seconds
		if now.Sub(r.at) > dedupeWindow {
			delete(s.recent, k)
		}
	}
	if r, ok := s.recent[node]; ok && r.sum == sum && now.Sub(r.at) <= dedupeWindow {
		return true
	}
	s.recent[node] = recentSummary{sum: sum, at: now}
	return false
}

// recentSummary is the last summary pushed for a node.
type recentSummary struct {
	sum [32]byte
	at  time.Time
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), bounded.
func retryAfter(h string, now time.Time) time.Duration {
	d := defaultRetryAfter
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && secs >= 0 {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, time.Second), maxRetryAfter)
}

func (s *Service) blockedUntil(origin string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retryAfter[origin]
}

func (s *Service) blockUntil(origin string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for o, u := range s.retryAfter { // keep the map to the services backing off now
		if time.Now().After(u) {
			delete(s.retryAfter, o)
		}
	}
	s.retryAfter[origin] = t
}

// originOf is the endpoint's scheme://host[:port]: rate limits are per push service.
func originOf(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	return u.Scheme + "://" + u.Host
}
