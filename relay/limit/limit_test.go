package limit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Unix(1_700_000_000, 0)} }

func TestConns(t *testing.T) {
	c := NewConns(2)
	r1, ok1 := c.Acquire("a")
	_, ok2 := c.Acquire("a")
	_, ok3 := c.Acquire("a")
	_, okb := c.Acquire("b")
	if !ok1 || !ok2 || ok3 || !okb {
		t.Fatalf("acquire results %v %v %v %v, want true true false true", ok1, ok2, ok3, okb)
	}
	r1()
	r1() // a second release must not free a second slot
	if n := c.Count("a"); n != 1 {
		t.Fatalf("count after release %d, want 1", n)
	}
	if _, ok := c.Acquire("a"); !ok {
		t.Fatal("slot not freed by release")
	}
	if _, ok := c.Acquire("a"); ok {
		t.Fatal("double release freed two slots")
	}
	unlimited := NewConns(0)
	for i := range 1000 {
		if _, ok := unlimited.Acquire("x"); !ok {
			t.Fatalf("unlimited refused connection %d", i)
		}
	}
}

func TestConnsConcurrent(t *testing.T) {
	c := NewConns(5)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rel, ok := c.Acquire("k"); ok {
				rel()
			}
		}()
	}
	wg.Wait()
	if n := c.Count("k"); n != 0 {
		t.Fatalf("count %d after all released", n)
	}
}

func TestRate(t *testing.T) {
	type step struct {
		wait  time.Duration
		op    string // "allow", "fail", "succeed"
		ok    bool
		retry time.Duration // expected retryAfter when !ok
	}
	tests := []struct {
		name  string
		cfg   RateConfig
		steps []step
	}{
		{"burst then refill", RateConfig{Every: time.Second, Burst: 2}, []step{
			{0, "allow", true, 0}, {0, "allow", true, 0}, {0, "allow", false, time.Second},
			{500 * time.Millisecond, "allow", false, 500 * time.Millisecond},
			{500 * time.Millisecond, "allow", true, 0},
		}},
		{"backoff doubles", RateConfig{Backoff: time.Second}, []step{
			{0, "fail", true, 0}, {0, "allow", false, time.Second},
			{time.Second, "allow", true, 0}, {0, "fail", true, 0}, {0, "allow", false, 2 * time.Second},
			{2 * time.Second, "fail", true, 0}, {0, "allow", false, 4 * time.Second},
		}},
		{"backoff capped", RateConfig{Backoff: time.Minute, MaxBackoff: 90 * time.Second}, []step{
			{0, "fail", true, 0}, {0, "fail", true, 0}, {0, "fail", true, 0}, {0, "allow", false, 90 * time.Second},
		}},
		{"free failures", RateConfig{Backoff: time.Second, FreeFailures: 2}, []step{
			{0, "fail", true, 0}, {0, "allow", true, 0}, {0, "fail", true, 0}, {0, "allow", true, 0},
			{0, "fail", true, 0}, {0, "allow", false, time.Second},
		}},
		{"success clears backoff", RateConfig{Backoff: time.Minute}, []step{
			{0, "fail", true, 0}, {0, "succeed", true, 0}, {0, "allow", true, 0},
		}},
		{"no limits", RateConfig{}, []step{
			{0, "allow", true, 0}, {0, "allow", true, 0}, {0, "fail", true, 0}, {0, "allow", true, 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			tc.cfg.Now = clk.now
			r := NewRate(tc.cfg)
			for i, s := range tc.steps {
				clk.add(s.wait)
				switch s.op {
				case "fail":
					r.Fail("k")
				case "succeed":
					r.Succeed("k")
				case "allow":
					retry, ok := r.Allow("k")
					if ok != s.ok || (!ok && retry != s.retry) {
						t.Fatalf("step %d: Allow = %v, %v; want %v, %v", i, retry, ok, s.ok, s.retry)
					}
				}
			}
			// Another key is never affected.
			if _, ok := r.Allow("other"); !ok {
				t.Error("an unrelated key was limited")
			}
		})
	}
}

func TestRateSweep(t *testing.T) {
	clk := newClock()
	r := NewRate(RateConfig{Every: time.Second, Burst: 1, Backoff: time.Second, MaxBackoff: time.Minute, Now: clk.now})
	for i := range 100 {
		r.Allow(fmt.Sprint(i))
	}
	r.Fail("guesser")
	clk.add(2 * sweepEvery)
	r.Allow("new")
	// Only "new" is left: the others are full again and the guesser's backoff is long over.
	if n := r.Len(); n != 1 {
		t.Fatalf("%d keys after sweep, want 1", n)
	}
}
