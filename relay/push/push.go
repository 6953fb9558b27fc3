// Package push turns XEP-0357 push publications into Web Push notifications.
//
// The relay is the XEP-0357 "app server": it connects to the XMPP server as an XEP-0114
// component (push.<domain>), and the engine enables push on the user's server with that JID,
// a node and a secret the relay handed out when the browser registered its PushSubscription
// (POST /api/push/subscriptions). The server publishes a summary whenever the user is offline
// or hibernated; the relay checks node and secret, skips users that have a live bridge (a tab
// shows the message already), and sends an RFC 8291-encrypted, VAPID-signed push to every
// subscription of the user, deleting those the push service reports gone.
//
// One registration (node) per account, fanned out to all of its subscriptions: servers key
// registrations by (service, node), so a per-device node would give a publication per device
// and per-device state on the server the relay cannot clean up.
package push

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/store"
)

// Defaults for Config's zero fields.
const (
	// DefaultComponentPort is the XEP-0114 port Prosody and ejabberd use by convention.
	DefaultComponentPort = 5347
	// DefaultTTL is how long a push service keeps a push for an unreachable browser.
	DefaultTTL = 24 * time.Hour
	// DefaultMaxSubscriptions caps the browsers of one account.
	DefaultMaxSubscriptions = 10
	// sendTimeout bounds one request to a push service.
	sendTimeout = 30 * time.Second
	// maxInFlight caps concurrent requests to push services.
	maxInFlight = 64
)

// Store keeps the VAPID key and the registrations. *store.Store implements it; NewMemoryStore
// is the one without a file.
type Store interface {
	PushVAPIDKey() (*ecdsa.PrivateKey, error)
	PushSubscribe(jid string, sub store.PushSubscription, max int, newNode func() (node, secret string)) (store.PushRegistration, []store.PushSubscription, error)
	PushUnsubscribe(jid, endpoint string) (found bool, remaining int, err error)
	PushByNode(node string) (store.PushRegistration, error)
}

// TokenVerifier checks a relay JWT and returns the bare JID it is bound to. *auth.Authority
// implements it.
type TokenVerifier interface {
	Verify(raw string) (jid.JID, error)
}

// Config configures a Service.
type Config struct {
	// Domain is the XMPP domain of the users; publications for others are refused. Required.
	Domain string
	// ComponentAddr is the XMPP server's XEP-0114 listener, host:port. Required for Run.
	ComponentAddr string
	// ComponentJID is the component's domain; "push." + Domain if empty.
	ComponentJID string
	// ComponentSecret is the shared secret of the component. Required for Run.
	ComponentSecret string
	// Subscriber is the VAPID contact ("sub"), a mailto: or https: URI; push services use it to
	// reach the operator. "mailto:postmaster@" + Domain if empty.
	Subscriber string
	// TTL is how long push services keep an undelivered push; DefaultTTL if zero.
	TTL time.Duration
	// MaxSubscriptions caps the subscriptions of one account; DefaultMaxSubscriptions if zero.
	MaxSubscriptions int
	// AllowLoopbackHTTP accepts http:// endpoints on loopback addresses, and connects to
	// loopback, for tests with a local push service. Never in production.
	AllowLoopbackHTTP bool
	// Store keeps the VAPID key and registrations; a memory store if nil.
	Store Store
	// Verifier checks the relay JWT of subscription requests. Required for Handler.
	Verifier TokenVerifier
	// Live reports whether a bare JID has a live bridge (an open tab); nil means never.
	Live func(bareJID string) bool
	// Logger receives the service's logs; slog.Default() if nil.
	Logger *slog.Logger
}

// Service is the Web Push app server. Build it with New.
type Service struct {
	cfg       Config
	log       *slog.Logger
	component jid.JID
	vapidPriv string // base64url raw scalar, as webpush-go takes it
	vapidPub  string // base64url uncompressed point, the browser's applicationServerKey
	client    *http.Client
	sem       chan struct{}
	stats     Stats
	connected atomic.Bool
	inflight  sync.WaitGroup // deliveries running

	mu         sync.Mutex
	retryAfter map[string]time.Time     // push service origin → no pushes before this (429)
	recent     map[string]recentSummary // node → last summary pushed, to drop duplicates
}

// Stats are the service's counters.
type Stats struct {
	// Sent counts pushes a push service accepted.
	Sent atomic.Int64
	// Suppressed counts publications not pushed because the user had a live bridge.
	Suppressed atomic.Int64
	// Removed counts subscriptions deleted because their push service said they are gone.
	Removed atomic.Int64
	// Failed counts pushes not delivered, by reason.
	Failed sync.Map // string → *atomic.Int64
	// Publications counts XEP-0357 publications received, by the answer given.
	Publications sync.Map // string → *atomic.Int64
}

func count(m *sync.Map, key string) {
	v, _ := m.LoadOrStore(key, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func snapshot(m *sync.Map) map[string]int64 {
	out := map[string]int64{}
	m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// FailedCount reports the pushes not delivered for reason.
func (s *Stats) FailedCount(reason string) int64 { return snapshot(&s.Failed)[reason] }

// PublicationCount reports the publications answered with answer ("result", "item-not-found", ...).
func (s *Stats) PublicationCount(answer string) int64 { return snapshot(&s.Publications)[answer] }

// New validates cfg and returns a Service; it loads (or creates) the VAPID key from the store.
func New(cfg Config) (*Service, error) {
	d, err := jid.Parse(cfg.Domain)
	if err != nil || d.Localpart() != "" || d.Resourcepart() != "" {
		return nil, fmt.Errorf("push: domain %q: not an XMPP domain", cfg.Domain)
	}
	cfg.Domain = d.String()
	cfg.ComponentJID = cmp.Or(cfg.ComponentJID, "push."+cfg.Domain)
	c, err := jid.Parse(cfg.ComponentJID)
	if err != nil || c.Localpart() != "" || c.Resourcepart() != "" {
		return nil, fmt.Errorf("push: component JID %q: want a bare domain like push.%s", cfg.ComponentJID, cfg.Domain)
	}
	cfg.Subscriber = cmp.Or(cfg.Subscriber, "mailto:postmaster@"+cfg.Domain)
	if !strings.HasPrefix(cfg.Subscriber, "mailto:") && !strings.HasPrefix(cfg.Subscriber, "https://") {
		return nil, fmt.Errorf("push: VAPID subscriber %q: want mailto:address or https://url", cfg.Subscriber)
	}
	if cfg.TTL < 0 || cfg.TTL > 28*24*time.Hour {
		return nil, fmt.Errorf("push: TTL %v: want between 0 (default %v) and 28 days", cfg.TTL, DefaultTTL)
	}
	cfg.TTL = cmp.Or(cfg.TTL, DefaultTTL)
	cfg.MaxSubscriptions = cmp.Or(cfg.MaxSubscriptions, DefaultMaxSubscriptions)
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	if cfg.Live == nil {
		cfg.Live = func(string) bool { return false }
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	key, err := cfg.Store.PushVAPIDKey()
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	raw, err := key.Bytes()
	if err != nil {
		return nil, fmt.Errorf("push: VAPID key: %w", err)
	}
	pub, err := key.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("push: VAPID key: %w", err)
	}
	return &Service{
		cfg: cfg, log: log, component: c,
		vapidPriv: base64.RawURLEncoding.EncodeToString(raw), vapidPub: base64.RawURLEncoding.EncodeToString(pub),
		client: newClient(cfg.AllowLoopbackHTTP), sem: make(chan struct{}, maxInFlight),
		retryAfter: map[string]time.Time{}, recent: map[string]recentSummary{},
	}, nil
}

// PublicKey returns the VAPID public key (base64url uncompressed P-256 point): pages pass it to
// pushManager.subscribe as applicationServerKey.
func (s *Service) PublicKey() string { return s.vapidPub }

// ComponentJID is the XEP-0357 service JID the engine enables push with.
func (s *Service) ComponentJID() string { return s.component.String() }

// Live reports whether bare (a bare JID) has a live tab now, so that its publications are
// not pushed.
func (s *Service) Live(bare string) bool { return s.cfg.Live(bare) }

// Stats returns the live counters.
func (s *Service) Stats() *Stats { return &s.stats }

// Connected reports whether the component is connected to the XMPP server now.
func (s *Service) Connected() bool { return s.connected.Load() }

// Run keeps the component connected until ctx ends, reconnecting with backoff. Publications
// are answered and pushes sent while it runs; it returns once the pushes in flight are done
// (ending ctx cancels them).
func (s *Service) Run(ctx context.Context) error {
	if s.cfg.ComponentAddr == "" || s.cfg.ComponentSecret == "" {
		return errors.New("push: component address and secret are required")
	}
	defer s.inflight.Wait()
	return s.runComponent(ctx)
}

// WriteMetrics writes the service's series in the Prometheus text format.
func (s *Service) WriteMetrics(w io.Writer) {
	metric := func(name, typ, help string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	labelled := func(name, label string, values map[string]int64) {
		for _, k := range slices.Sorted(maps.Keys(values)) {
			fmt.Fprintf(w, "%s{%s=%q} %d\n", name, label, k, values[k])
		}
	}
	up := 0
	if s.Connected() {
		up = 1
	}
	metric("sparkweb_push_component_connected", "gauge", "1 while the XEP-0114 push component is connected.")
	fmt.Fprintf(w, "sparkweb_push_component_connected %d\n", up)
	metric("sparkweb_push_publications_total", "counter", "XEP-0357 publications received, by the answer given.")
	labelled("sparkweb_push_publications_total", "answer", snapshot(&s.stats.Publications))
	metric("sparkweb_pushes_sent_total", "counter", "Web Pushes accepted by a push service.")
	fmt.Fprintf(w, "sparkweb_pushes_sent_total %d\n", s.stats.Sent.Load())
	metric("sparkweb_pushes_failed_total", "counter", "Web Pushes not delivered, by reason.")
	labelled("sparkweb_pushes_failed_total", "reason", snapshot(&s.stats.Failed))
	metric("sparkweb_pushes_suppressed_total", "counter", "Publications not pushed because the user had a live tab.")
	fmt.Fprintf(w, "sparkweb_pushes_suppressed_total %d\n", s.stats.Suppressed.Load())
	metric("sparkweb_push_subscriptions_removed_total", "counter", "Subscriptions deleted because their push service reported them gone.")
	fmt.Fprintf(w, "sparkweb_push_subscriptions_removed_total %d\n", s.stats.Removed.Load())
}
