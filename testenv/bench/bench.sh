#!/usr/bin/env bash
# `make bench`: measures SparkWeb against its alternatives on this machine and writes
# docs/benchmarks.md. Benchmarks are not tests: nothing here asserts a time; only the engine's size
# budget (testenv/bench/budget) fails the run, after the report is written.
# `make bench` has already run testenv/deps.sh (Prosody, Chromium, Node, npm packages including
# converse.js) and built the engine and the relay. This script adds nginx and runs the drivers.
set -euo pipefail
cd "$(dirname "$0")/../.."
t0=$(date +%s)

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing nginx" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nginx >/dev/null
  # Debian starts the packaged nginx on port 80; the benchmark runs its own on a free port.
  $sudo service nginx stop >/dev/null 2>&1 || true
fi
export PATH=$PATH:/usr/sbin

# The relay holds two descriptors per bridged session; 10,000 sessions need more than the default.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

results=$(mktemp -d -t sparkweb-bench-XXXXXX)
trap 'rm -rf "$results"' EXIT

step() { echo "== $* ($(($(date +%s) - t0)) s)" >&2; }

step "Go micro-benchmarks"
# Only the packages that have benchmarks: compiling every test binary would take minutes.
mapfile -t bench_pkgs < <(grep -rl --include='*_test.go' '^func Benchmark' wasm relay testenv | xargs -n1 dirname | sort -u | sed 's|^|./|')
go test -run '^$' -bench . -benchmem -count=1 "${bench_pkgs[@]}" > "$results/micro.txt"

step "engine size"
size_rc=0
go run ./testenv/bench/wasmsize -out "$results/size.json" || size_rc=$?
[ "$size_rc" = 0 ] || [ "$size_rc" = 3 ] || exit "$size_rc"

step "relay: latency, throughput, CPU, memory"
go run ./testenv/bench/relaybench -root . -out "$results/relay.json"

step "browser: startup, second tab, tab to tab"
node testenv/bench/browser/browser.mjs "$results/browser.json" "${BENCH_REPEATS:-3}"

step "browser: roster of 5,000 contacts"
node testenv/bench/browser/roster.mjs "$results/scale.json" "${BENCH_REPEATS:-3}"

step "report"
go run ./testenv/bench/report -results "$results" -out docs/benchmarks.md -elapsed "$(($(date +%s) - t0))s"
echo "wrote docs/benchmarks.md in $(($(date +%s) - t0)) s" >&2
if [ "$size_rc" = 3 ]; then
  echo "make bench: the engine is over its size budget (testenv/bench/budget); see docs/benchmarks.md" >&2
  exit 1
fi
