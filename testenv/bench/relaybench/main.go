// Command relaybench measures what the relay costs against the alternatives, in one run on one
// machine: IQ-ping round trips and alice→bob message throughput straight to Prosody's WebSocket,
// through bin/sparkweb and through nginx as a plain WebSocket reverse proxy; then the relay's
// memory per idle bridged session and its CPU per 1,000 messages/s (nginx's beside it).
//
// It starts its own Prosody (testenv/prosody.sh), relay and nginx on loopback and writes the
// figures as JSON for testenv/bench/report. Nothing here asserts a time. RELAYBENCH_KEEP=1 keeps
// its work directory (the logs of Prosody, the relay and nginx).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.out, "out", "relay.json", "`file` to write the results to")
	flag.StringVar(&cfg.root, "root", ".", "repository `dir` (for testenv/prosody.sh and bin/sparkweb)")
	flag.IntVar(&cfg.rounds, "rounds", 4, "latency rounds; each round pings every path in turn")
	flag.IntVar(&cfg.pings, "pings", 500, "IQ pings per path and round")
	flag.IntVar(&cfg.messages, "messages", 10000, "messages per throughput run")
	flag.IntVar(&cfg.rate, "rate", 2000, "messages/s for the CPU measurement")
	flag.DurationVar(&cfg.cpuTime, "cpu-time", 10*time.Second, "length of the CPU measurement")
	flag.Var(&cfg.conns, "conns", "comma-separated idle-session counts for the memory measurement")
	flag.Parse()
	if len(cfg.conns) == 0 {
		cfg.conns = intList{1000, 10000}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	root, err := filepath.Abs(cfg.root)
	if err != nil {
		log.Error("relaybench: root", "err", err)
		os.Exit(2)
	}
	cfg.root = root
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	res, err := run(ctx, log, cfg)
	if err != nil {
		log.Error("relaybench failed", "err", err)
		os.Exit(1)
	}
	if err := writeJSON(cfg.out, res); err != nil {
		log.Error("relaybench: write results", "err", err)
		os.Exit(1)
	}
}

type config struct {
	out, root           string
	rounds, pings, rate int
	messages            int
	cpuTime             time.Duration
	conns               intList
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// intList is a flag.Value for "1000,10000".
type intList []int

func (l *intList) String() string { return fmt.Sprint(*l) }

func (l *intList) Set(s string) error {
	var out intList
	for _, f := range splitComma(s) {
		var n int
		if _, err := fmt.Sscan(f, &n); err != nil || n <= 0 {
			return fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}
