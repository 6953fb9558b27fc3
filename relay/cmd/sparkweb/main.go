// Command sparkweb is the SparkWeb relay: it serves the web client, exchanges XMPP passwords
// for short-lived relay tokens, and bridges the browser's WebSocket to the XMPP server.
//
//	sparkweb --upstream ws://127.0.0.1:5280/xmpp-websocket --domain example.org
//	sparkweb version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sparkweb/sparkweb"
	"github.com/sparkweb/sparkweb/relay/server"
)

// version is set at build time with -ldflags '-X main.version=…'.
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println("sparkweb", version)
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sparkweb: invalid configuration:\n%v\n", err)
		os.Exit(2)
	}
	if err := run(cfg, log); err != nil {
		log.Error("relay stopped", "err", err)
		os.Exit(1)
	}
}

// run serves until SIGINT or SIGTERM, then shuts down gracefully.
func run(cfg config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg.server.Assets = sparkweb.Assets()
	cfg.server.Logger = log
	srv, err := server.New(ctx, cfg.server)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout/WriteTimeout: they would cut long-lived WebSocket bridges. Token
		// bodies are small and bounded by the handler.
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "url", "http://"+ln.Addr().String(), "upstream", cfg.server.Upstream,
		"domain", cfg.server.Domain, "version", version)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// ctx is done, so the bridges are already closing with 1001; Shutdown drains the rest.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
