# SparkWeb: `make` builds everything, `make run` starts a dev stack, `make test` runs what CI runs.
GO        ?= go
GOROOT    := $(shell $(GO) env GOROOT)
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
WASM      := static/engine.wasm
WASM_EXEC := static/wasm_exec.js
RELAY     := bin/sparkweb
VERSION_JSON := static/version.json

.PHONY: all run test fuzz bench deps clean
all: $(RELAY)

# The engine: portable Go compiled for the SharedWorker; -s -w drop symbols the browser never uses.
$(WASM): go.mod go.sum $(shell find wasm -name '*.go' -not -name '*_test.go')
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w' -o $@ ./wasm/cmd/engine
	$(GO) run ./relay/cmd/precompress $@

# wasm_exec.js must come from the same Go release as the .wasm it runs.
$(WASM_EXEC): $(GOROOT)/lib/wasm/wasm_exec.js
	cp $< $@

# The build version names the SharedWorker, the service worker's cache and the leader lock, so a
# new build replaces the old one in every tab. It sorts in build order (time first).
ASSETS := $(WASM) $(WASM_EXEC) index.html $(wildcard webcomponents/*.js) $(filter-out $(VERSION_JSON),$(wildcard static/*.js static/*.css static/*.svg static/*.webmanifest)) $(wildcard static/examples/*)
$(VERSION_JSON): $(ASSETS)
	printf '{"version":"%s-%s"}\n' "$$(date -u +%Y%m%dT%H%M%SZ)" "$$(cat $^ | sha256sum | cut -c1-12)" > $@

# The relay embeds index.html, webcomponents/ and static/, so it is built last.
$(RELAY): $(ASSETS) $(VERSION_JSON) go.mod go.sum assets.go $(shell find relay -name '*.go')
	$(GO) build -trimpath -ldflags='-X main.version=$(VERSION)' -o $@ ./relay/cmd/sparkweb

run: $(RELAY)
	./testenv/dev.sh

deps:
	./testenv/deps.sh

# Fuzz targets run briefly on every test run; longer runs: make fuzz FUZZTIME=10m.
FUZZTIME ?= 10s
FUZZ := ./wasm/xmppws:FuzzFramer ./wasm/styled:FuzzParse ./relay/bridge:FuzzXMLGuard ./relay/xmpptcp:FuzzSplit ./relay/auth:FuzzAssertion ./relay/auth:FuzzVerify

test: deps $(RELAY)
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(MAKE) fuzz
	node --test --test-concurrency=1 webcomponents/test/*.test.mjs

fuzz:
	@for t in $(FUZZ); do \
	  echo "fuzz $$t for $(FUZZTIME)"; \
	  $(GO) test -run='^$$' -fuzz="^$${t#*:}$$" -fuzztime=$(FUZZTIME) "$${t%%:*}" || exit 1; \
	done

# Benchmarks, not tests: writes docs/benchmarks.md; fails only on the engine's size budget.
bench: deps $(RELAY)
	./testenv/bench/bench.sh

clean:
	rm -rf bin $(WASM) $(WASM).br $(WASM).gz $(WASM_EXEC) $(VERSION_JSON)
