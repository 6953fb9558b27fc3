//go:build js && wasm

// Command engine is the SparkWeb engine's SharedWorker host: a thin shell that hands JSON
// between static/worker.js and the portable engine package.
//
// worker.js defines sparkwebEmit(tab, json) and sparkwebReady(); this program defines
// sparkwebEngine.request(tab, json) and then calls sparkwebReady. The relay's URL comes from the
// SPARKWEB_RELAY environment variable that worker.js sets (the worker's own origin).
package main

import (
	"context"
	"log/slog"
	"os"
	"syscall/js"

	"github.com/sparkweb/sparkweb/wasm/engine"
	"github.com/sparkweb/sparkweb/wasm/storage"
)

func main() {
	global := js.Global()
	emit := global.Get("sparkwebEmit")
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var store storage.Store
	if idb, err := storage.NewIndexedDB(); err != nil {
		logger.Warn("no durable storage: state lives only as long as the worker", "err", err)
	} else {
		store = idb
	}
	e := engine.New(engine.Config{
		RelayURL: os.Getenv("SPARKWEB_RELAY"),
		Store:    store,
		Logger:   logger,
		Emit: func(tab string, msg []byte) {
			emit.Invoke(tab, string(msg))
		},
	})
	request := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) != 2 {
			return nil
		}
		// Request never blocks: it answers attach at once and hands everything else to a
		// goroutine, because blocking inside a js.FuncOf callback deadlocks the worker.
		e.Request(args[0].String(), []byte(args[1].String()))
		return nil
	})
	// Restore before serving tabs, so the first snapshot already holds the stored state. It runs
	// outside any JavaScript callback: awaiting IndexedDB needs the event loop free.
	if err := e.Restore(context.Background()); err != nil {
		logger.Error("restore stored state", "err", err)
	}
	global.Set("sparkwebEngine", js.ValueOf(map[string]any{"request": request}))
	global.Call("sparkwebReady")
	select {} // serve until the worker is terminated
}
