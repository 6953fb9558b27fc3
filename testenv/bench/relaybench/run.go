package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"
)

// Results is what relaybench writes; testenv/bench/report renders it.
type Results struct {
	// Paths are the ways to Prosody, in the order measured: direct, nginx, relay.
	Paths []PathResult `json:"paths"`
	// Memory holds one row per idle-session count.
	Memory []MemoryResult `json:"memory"`
	// MemoryNote explains a count that could not be reached.
	MemoryNote string `json:"memoryNote,omitempty"`
	// CPU compares the relay's and nginx's CPU at a fixed message rate.
	CPU []CPUResult `json:"cpu"`
}

// PathResult holds one path's latency and throughput.
type PathResult struct {
	Name         string  `json:"name"`
	Pings        int     `json:"pings"`
	P50ms        float64 `json:"p50ms"`
	P99ms        float64 `json:"p99ms"`
	Messages     int     `json:"messages"`
	MessagesPerS float64 `json:"messagesPerS"`
}

// MemoryResult is the RSS growth for Sessions idle bridged sessions.
type MemoryResult struct {
	Sessions          int     `json:"sessions"`
	RelayKiBPerConn   float64 `json:"relayKiBPerConn"`
	RelayRSSMiB       float64 `json:"relayRSSMiB"`
	ProsodyKiBPerConn float64 `json:"prosodyKiBPerConn"`
	OpenSeconds       float64 `json:"openSeconds"`
}

// CPUResult is a proxy's CPU while Rate messages/s flow alice→bob through it.
type CPUResult struct {
	Name string `json:"name"`
	// Rate is the achieved rate of messages received by bob.
	Rate float64 `json:"rate"`
	// CorePctPer1k is the percentage of one core per 1,000 messages/s (each message crosses the
	// proxy twice: alice's stream in, bob's stream out).
	CorePctPer1k float64 `json:"corePctPer1k"`
	// ProsodyCorePctPer1k is Prosody's share in the same run, for scale.
	ProsodyCorePctPer1k float64 `json:"prosodyCorePctPer1k"`
}

// path is one way to reach Prosody's WebSocket, per user.
type path struct {
	name string
	url  func(user string) string
}

func run(ctx context.Context, log *slog.Logger, cfg config) (*Results, error) {
	tmp, err := os.MkdirTemp("", "sparkweb-relaybench-")
	if err != nil {
		return nil, err
	}
	if os.Getenv("RELAYBENCH_KEEP") == "" {
		defer os.RemoveAll(tmp)
	}
	log.Info("work dir", "dir", tmp)

	p, err := startProsody(ctx, cfg.root, filepath.Join(tmp, "prosody"))
	if err != nil {
		return nil, err
	}
	defer p.stop()
	domain := p.domain()
	users := map[string]string{"alice": randomPassword(), "bob": randomPassword()}
	for u, pw := range users {
		if err := p.addUser(ctx, u, pw); err != nil {
			return nil, err
		}
	}
	jids := map[string]jid.JID{"alice": jid.MustParse("alice@" + domain), "bob": jid.MustParse("bob@" + domain)}
	for u, pw := range users {
		s, err := login(ctx, p.wsURL(), jids[u], pw)
		if err != nil {
			return nil, fmt.Errorf("%s: login: %w", u, err)
		}
		s.serve()
		err = s.noArchive(ctx)
		s.close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u, err)
		}
	}

	r, err := startRelay(ctx, cfg.root, mkdir(tmp, "relay"), p.wsURL(), domain)
	if err != nil {
		return nil, err
	}
	defer r.stop()
	tokens := map[string]string{}
	for u, pw := range users {
		if tokens[u], err = r.token(ctx, jids[u].String(), pw); err != nil {
			return nil, err
		}
	}
	ngx, err := startNginx(ctx, mkdir(tmp, "nginx"), p.wsURL())
	if err != nil {
		return nil, err
	}
	defer ngx.stop()
	wsPath := p.wsURL()[len("ws://"+hostOf(p.wsURL())):]

	paths := []path{
		{"direct to Prosody", func(string) string { return p.wsURL() }},
		{"nginx proxy", func(string) string { return ngx.wsURL(wsPath) }},
		{"SparkWeb relay", func(u string) string { return r.bridgeURL(tokens[u]) }},
	}
	res := &Results{}

	// Latency: one session per path, rounds interleaved so that noise hits every path alike.
	log.Info("latency", "paths", len(paths), "rounds", cfg.rounds, "pings", cfg.pings)
	samples := make([][]time.Duration, len(paths))
	sessions := make([]*session, len(paths))
	for i, pa := range paths {
		s, err := login(ctx, pa.url("alice"), jids["alice"], users["alice"])
		if err != nil {
			return nil, fmt.Errorf("%s: login: %w", pa.name, err)
		}
		defer s.close()
		s.serve()
		sessions[i] = s
		for range 50 { // warm-up
			if _, err := s.ping(ctx); err != nil {
				return nil, fmt.Errorf("%s: ping: %w", pa.name, err)
			}
		}
	}
	for range cfg.rounds {
		for i, s := range sessions {
			for range cfg.pings {
				d, err := s.ping(ctx)
				if err != nil {
					return nil, fmt.Errorf("%s: ping: %w", paths[i].name, err)
				}
				samples[i] = append(samples[i], d)
			}
		}
	}
	for i, pa := range paths {
		sessions[i].close()
		res.Paths = append(res.Paths, PathResult{
			Name: pa.name, Pings: len(samples[i]),
			P50ms: ms(percentile(samples[i], 50)), P99ms: ms(percentile(samples[i], 99)),
		})
	}

	// Throughput: alice sends as fast as she can, bob counts; two runs per path, interleaved.
	for round := range 2 {
		for i, pa := range paths {
			log.Info("throughput", "path", pa.name, "round", round)
			rate, err := throughput(ctx, pa, jids, users, cfg.messages, 0)
			if err != nil {
				return nil, fmt.Errorf("%s: throughput: %w", pa.name, err)
			}
			res.Paths[i].Messages += cfg.messages
			// The better of two runs: the machine is shared, interference only ever slows a run.
			res.Paths[i].MessagesPerS = max(res.Paths[i].MessagesPerS, rate.perS)
		}
	}

	// CPU at a fixed rate: relay against nginx, Prosody's share for scale.
	ppid, err := p.pid()
	if err != nil {
		return nil, err
	}
	for _, pr := range []struct {
		pa   path
		pids func() []int
	}{{paths[1], ngx.pids}, {paths[2], func() []int { return []int{r.pid()} }}} {
		log.Info("cpu", "path", pr.pa.name, "rate", cfg.rate)
		n := int(float64(cfg.rate) * cfg.cpuTime.Seconds())
		var before, after, pBefore, pAfter time.Duration
		rate, err := throughput(ctx, pr.pa, jids, users, n, cfg.rate, func(start bool) {
			t := cpuTime(pr.pids()...)
			pt := cpuTime(ppid)
			if start {
				before, pBefore = t, pt
			} else {
				after, pAfter = t, pt
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%s: cpu run: %w", pr.pa.name, err)
		}
		per1k := func(d time.Duration) float64 {
			return 100 * d.Seconds() / rate.elapsed.Seconds() / (rate.perS / 1000)
		}
		res.CPU = append(res.CPU, CPUResult{Name: pr.pa.name, Rate: rate.perS,
			CorePctPer1k: per1k(after - before), ProsodyCorePctPer1k: per1k(pAfter - pBefore)})
	}
	ngx.stop()

	// Memory: a fresh relay, so that the heap holds nothing of the runs above.
	r.stop()
	r2, err := startRelay(ctx, cfg.root, mkdir(tmp, "relay2"), p.wsURL(), domain)
	if err != nil {
		return nil, err
	}
	defer r2.stop()
	tok, err := r2.token(ctx, jids["alice"].String(), users["alice"])
	if err != nil {
		return nil, err
	}
	mem, note, err := memory(ctx, log, r2, ppid, r2.bridgeURL(tok), jids["alice"], users["alice"], cfg.conns)
	if err != nil {
		return nil, err
	}
	res.Memory, res.MemoryNote = mem, note
	return res, nil
}

type rateResult struct {
	perS    float64
	elapsed time.Duration
}

// throughput logs alice and bob in over pa, sends n messages alice→bob (at rate/s, or as fast as
// possible if rate is 0) and times until bob has them all. mark, if given, is called right before
// the first message and right after the last arrives.
func throughput(ctx context.Context, pa path, jids map[string]jid.JID, pw map[string]string, n, rate int, mark ...func(start bool)) (rateResult, error) {
	alice, err := login(ctx, pa.url("alice"), jids["alice"], pw["alice"])
	if err != nil {
		return rateResult{}, fmt.Errorf("alice: %w", err)
	}
	defer alice.close()
	alice.serve()
	bob, err := login(ctx, pa.url("bob"), jids["bob"], pw["bob"])
	if err != nil {
		return rateResult{}, fmt.Errorf("bob: %w", err)
	}
	defer bob.close()
	bob.serve()
	to := bob.s.LocalAddr()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	for _, m := range mark {
		m(true)
	}
	start := time.Now()
	const tick = 10 * time.Millisecond
	for i := 0; i < n; i++ {
		if rate > 0 {
			// Paced: message i is due at start + i/rate.
			if due := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second))); time.Until(due) > tick {
				time.Sleep(time.Until(due))
			}
		}
		if err := alice.send(ctx, to, fmt.Sprintf("benchmark message %d with a body of typical chat length", i)); err != nil {
			return rateResult{}, fmt.Errorf("send %d: %w", i, err)
		}
	}
	if err := bob.waitReceived(ctx, int64(n)); err != nil {
		return rateResult{}, err
	}
	elapsed := time.Since(start)
	for _, m := range mark {
		m(false)
	}
	return rateResult{perS: float64(n) / elapsed.Seconds(), elapsed: elapsed}, nil
}

// memory opens idle logged-in sessions through the relay up to each count and records the RSS
// growth per session of the relay (and of Prosody, for scale).
func memory(ctx context.Context, log *slog.Logger, r *relay, prosodyPID int, wsURL string, j jid.JID, password string, counts []int) ([]MemoryResult, string, error) {
	var note string
	// Each bridged session holds two descriptors in the relay (browser side, server side).
	limit := openFileLimit(r.pid())
	if reach := (limit - 200) / 2; limit > 0 && slices.Max(counts) > reach {
		note = fmt.Sprintf("%d sessions cannot be held here: the relay needs two file descriptors per bridged session and this machine's hard limit of open files is %d (ulimit -Hn, not raisable in this container), so the largest row is %d sessions.", slices.Max(counts), limit, reach)
		for i := range counts {
			counts[i] = min(counts[i], reach)
		}
		counts = slices.Compact(counts)
	}
	var (
		mu    sync.Mutex
		open  []*session
		start = time.Now()
	)
	defer func() {
		for _, s := range open {
			s.close()
		}
	}()
	openN := func(n int) error {
		jobs := make(chan int)
		errs := make(chan error, 1)
		var wg sync.WaitGroup
		for range 2 * runtime.NumCPU() * 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range jobs {
					s, err := login(ctx, wsURL, j, password)
					if err != nil {
						select {
						case errs <- err:
						default:
						}
						continue
					}
					s.idle()
					mu.Lock()
					open = append(open, s)
					mu.Unlock()
				}
			}()
		}
		for range n {
			jobs <- 0
		}
		close(jobs)
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
			return nil
		}
	}
	settle := func() (relayKiB, prosodyKiB float64) {
		time.Sleep(3 * time.Second) // let the relay's pumps park and Prosody finish its logins
		return float64(rssKiB(r.pid())), float64(rssKiB(prosodyPID))
	}
	const warm = 20
	if err := openN(warm); err != nil {
		return nil, "", fmt.Errorf("open %d sessions: %w", warm, err)
	}
	baseRelay, baseProsody := settle()
	var rows []MemoryResult
	for _, c := range counts {
		log.Info("memory", "sessions", c)
		err := openN(c - len(open))
		if err != nil {
			// What the machine could hold is a result too: report it rather than fail the run.
			note = strings.TrimSpace(note + fmt.Sprintf(" Opening %d sessions stopped at %d: %v.", c, len(open), err))
			if len(open) <= warm {
				return rows, note, nil
			}
		}
		opened := time.Since(start)
		rel, pro := settle()
		n := float64(len(open) - warm)
		rows = append(rows, MemoryResult{Sessions: len(open), RelayRSSMiB: rel / 1024,
			RelayKiBPerConn: (rel - baseRelay) / n, ProsodyKiBPerConn: (pro - baseProsody) / n,
			OpenSeconds: opened.Seconds()})
		if err != nil {
			break
		}
	}
	return rows, note, nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mkdir(parent, name string) string {
	d := filepath.Join(parent, name)
	_ = os.MkdirAll(d, 0o755)
	return d
}

func hostOf(u string) string {
	rest := u[len("ws://"):]
	for i, c := range rest {
		if c == '/' {
			return rest[:i]
		}
	}
	return rest
}
