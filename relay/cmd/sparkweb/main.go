// Command sparkweb is the SparkWeb relay: it serves the web client, exchanges XMPP passwords
// for short-lived relay tokens, and bridges the browser's WebSocket to the XMPP server.
//
//	sparkweb --upstream ws://127.0.0.1:5280/xmpp-websocket --domain example.org
//	sparkweb keys --store /var/lib/sparkweb/relay.db [list|rotate]
//	sparkweb version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

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
	if len(os.Args) > 1 && os.Args[1] == "keys" {
		if err := keysCommand(os.Args[2:], os.Getenv, os.Stdout, os.Stderr); err != nil {
			if !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(os.Stderr, "sparkweb keys: %v\n", err)
				os.Exit(1)
			}
		}
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
	defer srv.Close()
	if cfg.server.StorePath == "" {
		log.Warn("no --store: signing keys live in memory, tokens end with the process, no refresh tokens")
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var tlsFiles *server.TLSFiles
	scheme := "http"
	if cfg.tlsCert != "" {
		tlsFiles, scheme = &server.TLSFiles{CertFile: cfg.tlsCert, KeyFile: cfg.tlsKey}, "https"
	}
	if srv.HasInternal() {
		iln, err := net.Listen("tcp", cfg.internalListen)
		if err != nil {
			return fmt.Errorf("internal listen: %w", err)
		}
		log.Info("serving the token check for the XMPP server", "url", "https://"+iln.Addr().String()+server.InternalPath+"{token}")
		go func() {
			if err := srv.ServeInternal(ctx, iln); err != nil {
				log.Error("internal endpoint stopped", "err", err)
				stop()
			}
		}()
	}
	log.Info("listening", "url", scheme+"://"+ln.Addr().String(), "upstream", cfg.server.Upstream,
		"upstream_auth", cfg.server.UpstreamAuth, "domain", cfg.server.Domain, "version", version)
	return srv.Serve(ctx, ln, tlsFiles)
}
