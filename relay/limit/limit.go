// Package limit holds the relay's abuse limits: counters of concurrent connections per key and
// per-key rate limits with an escalating backoff after failures. Keys are whatever the caller
// limits by (a client IP, a bare JID); memory is bounded by sweeping idle keys.
package limit

import (
	"math"
	"sync"
	"time"
)

// Conns counts concurrent connections per key and refuses a key past its maximum.
// The zero value is not usable; build one with NewConns. It is safe for concurrent use.
type Conns struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

// NewConns returns a counter allowing max concurrent connections per key; max <= 0 means no limit.
func NewConns(max int) *Conns {
	return &Conns{max: max, n: map[string]int{}}
}

// Acquire takes a slot for key. It returns a release function, to be called exactly once when
// the connection ends, or ok=false when key already holds the maximum.
func (c *Conns) Acquire(key string) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 && c.n[key] >= c.max {
		return nil, false
	}
	c.n[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			// Deleting at zero keeps the map as small as the set of connected keys.
			if c.n[key]--; c.n[key] <= 0 {
				delete(c.n, key)
			}
		})
	}, true
}

// Count reports how many connections key holds.
func (c *Conns) Count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// Max reports the per-key maximum (0: unlimited).
func (c *Conns) Max() int { return c.max }

// RateConfig configures a Rate.
type RateConfig struct {
	// Every is the interval at which one attempt is earned back; 0 disables the bucket.
	Every time.Duration
	// Burst is how many attempts a key may make at once; 1 if less.
	Burst int
	// Backoff is the wait imposed after the first failure past FreeFailures, doubled with
	// each further consecutive failure; 0 disables the backoff.
	Backoff time.Duration
	// FreeFailures is how many consecutive failures cost nothing: a typo should not make a
	// user wait.
	FreeFailures int
	// MaxBackoff caps the backoff; 15 minutes if zero.
	MaxBackoff time.Duration
	// Now returns the current time; time.Now if nil.
	Now func() time.Time
}

// Rate is a token bucket per key plus an exponential backoff after consecutive failures, the
// shape that slows password guessing without locking a user out for long. It is safe for
// concurrent use.
type Rate struct {
	cfg       RateConfig
	mu        sync.Mutex
	keys      map[string]*rateState
	lastSweep time.Time
}

type rateState struct {
	tokens   float64
	last     time.Time // when tokens was computed
	failures int
	lastFail time.Time
	until    time.Time // no attempt before this (backoff)
}

// sweepEvery bounds how often Allow scans for idle keys.
const sweepEvery = time.Minute

// NewRate returns a Rate with cfg's limits.
func NewRate(cfg RateConfig) *Rate {
	if cfg.Burst < 1 {
		cfg.Burst = 1
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 15 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Rate{cfg: cfg, keys: map[string]*rateState{}}
}

// Allow takes one attempt for key. When the key must wait, it returns ok=false and how long
// until the next attempt may succeed.
func (r *Rate) Allow(key string) (retryAfter time.Duration, ok bool) {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweep(now)
	s := r.state(key, now)
	if now.Before(s.until) {
		return s.until.Sub(now), false
	}
	if r.cfg.Every <= 0 {
		return 0, true
	}
	r.refill(s, now)
	if s.tokens < 1 {
		return time.Duration((1 - s.tokens) * float64(r.cfg.Every)), false
	}
	s.tokens--
	return 0, true
}

// Fail records a failed attempt (a wrong password) and starts or extends key's backoff.
func (r *Rate) Fail(key string) {
	if r.cfg.Backoff <= 0 {
		return
	}
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.state(key, now)
	s.failures++
	s.lastFail = now
	n := s.failures - r.cfg.FreeFailures
	if n <= 0 {
		return
	}
	// Backoff · 2^(n-1), computed in float to stay clear of overflow.
	d := time.Duration(math.Min(float64(r.cfg.Backoff)*math.Pow(2, float64(n-1)), float64(r.cfg.MaxBackoff)))
	s.until = now.Add(d)
}

// Succeed clears key's failures: the backoff punishes guessing, not a user who got it right.
func (r *Rate) Succeed(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.keys[key]; ok {
		s.failures, s.until = 0, time.Time{}
	}
}

// Len reports how many keys are tracked (for tests and metrics).
func (r *Rate) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

func (r *Rate) state(key string, now time.Time) *rateState {
	s, ok := r.keys[key]
	if !ok {
		s = &rateState{tokens: float64(r.cfg.Burst), last: now}
		r.keys[key] = s
	}
	return s
}

func (r *Rate) refill(s *rateState, now time.Time) {
	if r.cfg.Every > 0 {
		s.tokens = math.Min(float64(r.cfg.Burst), s.tokens+float64(now.Sub(s.last))/float64(r.cfg.Every))
	}
	s.last = now
}

// sweep forgets keys that are back to a full bucket and past any backoff: they behave exactly
// like unseen keys, so dropping them changes nothing but memory.
func (r *Rate) sweep(now time.Time) {
	if now.Sub(r.lastSweep) < sweepEvery {
		return
	}
	r.lastSweep = now
	for k, s := range r.keys {
		r.refill(s, now)
		// Failures are forgotten after MaxBackoff without one and past any backoff.
		quiet := s.failures == 0 || now.Sub(s.lastFail) > r.cfg.MaxBackoff
		if s.tokens >= float64(r.cfg.Burst) && quiet && now.After(s.until) {
			delete(r.keys, k)
		}
	}
}
