// Package server wires the relay's parts into one http.Handler: the token endpoint, the
// WebSocket bridge, a health check and the web assets.
package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/relay/bridge"
	"github.com/sparkweb/sparkweb/relay/upstream"
	"github.com/sparkweb/sparkweb/relay/web"
)

// MaxTokenTTL bounds Config.TokenTTL: relay JWTs cannot be revoked, so they must stay short.
const MaxTokenTTL = 24 * time.Hour

// Config configures a relay.
type Config struct {
	// Upstream is the XMPP server's WebSocket endpoint, ws:// or wss://. Required.
	Upstream string
	// Domain is the XMPP domain users log in to. Required.
	Domain string
	// AllowedOrigins lists page origins (scheme://host[:port]), besides the relay's own, that
	// may open the bridge.
	AllowedOrigins []string
	// ForwardedProtoHTTPS tells the XMPP server the client link is encrypted even when the
	// relay itself is reached over plain HTTP (behind a TLS-terminating proxy).
	ForwardedProtoHTTPS bool
	// TokenTTL is the lifetime of relay JWTs; auth.DefaultTTL (15 minutes) if zero.
	TokenTTL time.Duration
	// Assets are served at "/"; nothing is if nil.
	Assets fs.FS
	// Logger receives the relay's logs; slog.Default() if nil.
	Logger *slog.Logger
}

// Validate reports every problem with c, in words an operator can act on.
func (c Config) Validate() error {
	var errs []error
	if c.Upstream == "" {
		errs = append(errs, errors.New("upstream: required (the XMPP server's WebSocket URL, e.g. ws://127.0.0.1:5280/xmpp-websocket)"))
	} else if u, err := url.Parse(c.Upstream); err != nil {
		errs = append(errs, fmt.Errorf("upstream: %w", err))
	} else if (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		errs = append(errs, fmt.Errorf("upstream %q: want a ws:// or wss:// URL with a host", c.Upstream))
	}
	if c.Domain == "" {
		errs = append(errs, errors.New("domain: required (the XMPP domain, e.g. example.org)"))
	} else if d, err := jid.Parse(c.Domain); err != nil || d.Localpart() != "" || d.Resourcepart() != "" {
		errs = append(errs, fmt.Errorf("domain %q: not a valid XMPP domain", c.Domain))
	}
	for _, o := range c.AllowedOrigins {
		if _, err := bridge.ParseOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("allowed origins: %w", err))
		}
	}
	if c.TokenTTL < 0 || c.TokenTTL > MaxTokenTTL {
		errs = append(errs, fmt.Errorf("token TTL %v: want between 0 (default %v) and %v", c.TokenTTL, auth.DefaultTTL, MaxTokenTTL))
	}
	return errors.Join(errs...)
}

// Server is a configured relay.
type Server struct {
	handler http.Handler
	auth    *auth.Authority
}

// New validates cfg and builds the relay. Its signing key is generated here and lives only in
// memory (v0): tokens do not survive a restart. Ending ctx closes every open bridge.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server: invalid config: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	domain := jid.MustParse(cfg.Domain).String() // normalized, as JIDs in tokens are

	authority, err := auth.NewAuthority(auth.Options{TTL: cfg.TokenTTL})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	ws, err := bridge.New(ctx, bridge.Options{
		Verifier:            authority,
		Upstream:            cfg.Upstream,
		AllowedOrigins:      cfg.AllowedOrigins,
		ForwardedProtoHTTPS: cfg.ForwardedProtoHTTPS,
		Logger:              log.With("component", "bridge"),
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}

	mux := http.NewServeMux()
	mux.Handle("/api/token", &auth.TokenHandler{
		Authority: authority,
		Checker:   &upstream.Checker{URL: cfg.Upstream, ForwardedProtoHTTPS: cfg.ForwardedProtoHTTPS},
		Domain:    domain,
		Logger:    log.With("component", "token"),
	})
	mux.Handle("/ws", ws)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok"))
	})
	if cfg.Assets != nil {
		assets, err := web.New(cfg.Assets)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		mux.Handle("/", assets)
	}
	return &Server{handler: mux, auth: authority}, nil
}

// Handler returns the relay's routes: POST /api/token, GET /ws, GET /healthz and the assets.
func (s *Server) Handler() http.Handler { return s.handler }
