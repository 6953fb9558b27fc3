// Package server wires the relay's parts into one http.Handler (the token endpoint, the
// WebSocket bridge, health checks and the web assets) and serves it with timeouts against slow
// clients, optional TLS and a graceful drain.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/relay/bridge"
	"github.com/sparkweb/sparkweb/relay/limit"
	"github.com/sparkweb/sparkweb/relay/push"
	"github.com/sparkweb/sparkweb/relay/register"
	"github.com/sparkweb/sparkweb/relay/store"
	"github.com/sparkweb/sparkweb/relay/upstream"
	"github.com/sparkweb/sparkweb/relay/web"
	"github.com/sparkweb/sparkweb/relay/xmppauth"
)

// Upstream authentication modes (Config.UpstreamAuth).
const (
	UpstreamAuthPassword    = "password"
	UpstreamAuthJWT         = "jwt"
	UpstreamAuthOAuthBearer = "oauthbearer"
)

// MaxTokenTTL bounds Config.TokenTTL: relay JWTs cannot be revoked, so they must stay short.
const MaxTokenTTL = 24 * time.Hour

// Config configures a relay.
type Config struct {
	// Upstream is the XMPP server's WebSocket endpoint, ws:// or wss://, or its client port,
	// xmpp://host[:5222] (STARTTLS, required unless on loopback) or xmpps://host[:5223] (direct
	// TLS). Required.
	Upstream string
	// UpstreamAuth is who authenticates the XMPP stream: UpstreamAuthPassword (the engine, end
	// to end; the default), UpstreamAuthJWT or UpstreamAuthOAuthBearer (the relay, for the
	// token's subject; the browser never holds an XMPP password).
	UpstreamAuth string
	// UpstreamJWTSecret is the HS256 secret the XMPP server verifies relay-minted JWTs with
	// (ejabberd jwt_key); UpstreamAuthJWT needs it, at least 32 bytes.
	UpstreamJWTSecret []byte
	// OAuthClientID and OAuthClientSecret are the Basic credentials the XMPP server presents
	// when it checks a bearer token (Prosody oauth_client_id / oauth_client_secret);
	// UpstreamAuthOAuthBearer needs them (the id defaults to "sparkweb").
	OAuthClientID, OAuthClientSecret string
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
	// Limits are the abuse limits; each zero field takes its default (see DefaultLimits).
	Limits Limits
	// ClientIPHeader names a header set by a trusted reverse proxy with the client's address
	// (X-Forwarded-For: its last entry; X-Real-IP); the limits then count that address. Empty:
	// the TCP peer's address. Only set it when every request comes through that proxy.
	ClientIPHeader string
	// StorePath is the relay's bbolt file (signing keys, refresh tokens). Empty: keys live in
	// memory (tokens die with the process) and there are no refresh tokens.
	StorePath string
	// RefreshTTL is the lifetime of refresh tokens; auth.DefaultRefreshTTL if zero.
	RefreshTTL time.Duration
	// Assertion, if set, enables the jwt-bearer grant with the embedding site's keys.
	Assertion *auth.AssertionConfig
	// Push, if set, turns on Web Push: GET /api/push/vapid, /api/push/subscriptions and the
	// XEP-0357 component. The relay fills in its Domain, Store, Verifier, Live and Logger.
	Push *push.Config
	// PublicURL is the relay's external base URL (https://chat.example.org) for XEP-0156
	// discovery; without it the request's own Host (and scheme) are used.
	PublicURL string
	// UpstreamCAFile is a PEM file of CA certificates that verify a wss:// upstream instead of
	// the system roots (an internal CA).
	UpstreamCAFile string
	// UploadOrigins lists the XMPP server's HTTP upload (XEP-0363) origins (scheme://host[:port])
	// that pages may PUT files to and show images and media from; the pages' CSP allows them.
	UploadOrigins []string
	// AllowRegister serves POST /api/register, which creates accounts upstream by in-band
	// registration (XEP-0077); off, it answers not-allowed. The XMPP server must allow it too.
	AllowRegister bool
	// Assets are served at "/"; nothing is if nil.
	Assets fs.FS
	// Logger receives the relay's logs; slog.Default() if nil.
	Logger *slog.Logger
}

// Limits are the relay's abuse limits. A zero field means its default; for the caps and rates,
// a negative value means no limit.
type Limits struct {
	// MaxConnsPerJID caps concurrent bridges of one account (default 10).
	MaxConnsPerJID int
	// MaxConnsPerIP caps concurrent bridges from one client address (default 50).
	MaxConnsPerIP int
	// MaxStanzaSize caps one WebSocket message from a client, in bytes (default 256 KiB).
	MaxStanzaSize int64
	// PingInterval is how often bridged peers are pinged (default 30 s; negative: never).
	PingInterval time.Duration
	// IdleTimeout closes a bridge silent both ways this long (default 1 h; negative: never).
	IdleTimeout time.Duration
	// TokenIPEvery and TokenIPBurst make the per-address token bucket: one request earned
	// back every TokenIPEvery (default 1 s), at most TokenIPBurst at once (default 30).
	TokenIPEvery time.Duration
	TokenIPBurst int
	// TokenAccountEvery and TokenAccountBurst are the per-account bucket (default 3 s, 20).
	TokenAccountEvery time.Duration
	TokenAccountBurst int
	// TokenBackoff is an account's wait after a wrong password beyond TokenFreeFailures,
	// doubled with each further one up to 15 minutes (default 1 s; negative: none).
	TokenBackoff time.Duration
	// TokenFreeFailures is how many consecutive wrong passwords cost no wait (default 3;
	// negative: none).
	TokenFreeFailures int
	// ReadHeaderTimeout bounds reading a request's headers (default 10 s): the slowloris guard.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request (default 30 s); upgraded WebSockets are exempt.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response (default 2 min, room for the engine download on a
	// slow link); upgraded WebSockets are exempt.
	WriteTimeout time.Duration
	// KeepAliveTimeout closes an idle HTTP keep-alive connection (default 2 min).
	KeepAliveTimeout time.Duration
	// DrainTimeout is how long a shutdown waits for bridges to close (default 10 s).
	DrainTimeout time.Duration
}

// DefaultLimits returns the limits used for zero fields of Limits.
func DefaultLimits() Limits {
	return Limits{
		MaxConnsPerJID: 10, MaxConnsPerIP: 50, MaxStanzaSize: bridge.ClientReadLimit,
		PingInterval: bridge.DefaultPingInterval, IdleTimeout: bridge.DefaultIdleTimeout,
		TokenIPEvery: time.Second, TokenIPBurst: 30,
		TokenAccountEvery: 3 * time.Second, TokenAccountBurst: 20, TokenBackoff: time.Second, TokenFreeFailures: 3,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 2 * time.Minute,
		KeepAliveTimeout: 2 * time.Minute, DrainTimeout: 10 * time.Second,
	}
}

// withDefaults fills l's zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	l.MaxConnsPerJID = cmp.Or(l.MaxConnsPerJID, d.MaxConnsPerJID)
	l.MaxConnsPerIP = cmp.Or(l.MaxConnsPerIP, d.MaxConnsPerIP)
	l.MaxStanzaSize = cmp.Or(l.MaxStanzaSize, d.MaxStanzaSize)
	l.PingInterval = cmp.Or(l.PingInterval, d.PingInterval)
	l.IdleTimeout = cmp.Or(l.IdleTimeout, d.IdleTimeout)
	l.TokenIPEvery = cmp.Or(l.TokenIPEvery, d.TokenIPEvery)
	l.TokenIPBurst = cmp.Or(l.TokenIPBurst, d.TokenIPBurst)
	l.TokenAccountEvery = cmp.Or(l.TokenAccountEvery, d.TokenAccountEvery)
	l.TokenAccountBurst = cmp.Or(l.TokenAccountBurst, d.TokenAccountBurst)
	l.TokenBackoff = cmp.Or(l.TokenBackoff, d.TokenBackoff)
	l.TokenFreeFailures = cmp.Or(l.TokenFreeFailures, d.TokenFreeFailures)
	l.ReadHeaderTimeout = cmp.Or(l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	l.ReadTimeout = cmp.Or(l.ReadTimeout, d.ReadTimeout)
	l.WriteTimeout = cmp.Or(l.WriteTimeout, d.WriteTimeout)
	l.KeepAliveTimeout = cmp.Or(l.KeepAliveTimeout, d.KeepAliveTimeout)
	l.DrainTimeout = cmp.Or(l.DrainTimeout, d.DrainTimeout)
	return l
}

// off turns the "negative means none" convention into the 0 the limit packages use.
func off[T int | int64 | time.Duration](v T) T { return max(v, 0) }

// Validate reports every problem with c, in words an operator can act on.
func (c Config) Validate() error {
	var errs []error
	if c.Upstream == "" {
		errs = append(errs, errors.New("upstream: required (the XMPP server's WebSocket URL, e.g. ws://127.0.0.1:5280/xmpp-websocket)"))
	} else if u, err := url.Parse(c.Upstream); err != nil {
		errs = append(errs, fmt.Errorf("upstream: %w", err))
	} else if (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "xmpp" && u.Scheme != "xmpps") || u.Hostname() == "" {
		errs = append(errs, fmt.Errorf("upstream %q: want a ws://, wss://, xmpp:// or xmpps:// URL with a host", c.Upstream))
	} else if (u.Scheme == "xmpp" || u.Scheme == "xmpps") && (u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil) {
		errs = append(errs, fmt.Errorf("upstream %q: want xmpp(s)://host[:port] and nothing else", c.Upstream))
	}
	switch c.UpstreamAuth {
	case "", UpstreamAuthPassword:
	case UpstreamAuthJWT:
		if len(c.UpstreamJWTSecret) < xmppauth.MinSecretLen {
			errs = append(errs, fmt.Errorf("upstream JWT secret: %d bytes, want at least %d (the server's HS256 key)", len(c.UpstreamJWTSecret), xmppauth.MinSecretLen))
		}
	case UpstreamAuthOAuthBearer:
		if len(c.OAuthClientSecret) < 16 {
			errs = append(errs, errors.New("upstream OAuth client secret: want at least 16 bytes (Prosody's oauth_client_secret)"))
		}
	default:
		errs = append(errs, fmt.Errorf("upstream auth %q: want password, jwt or oauthbearer", c.UpstreamAuth))
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
	for _, o := range c.UploadOrigins {
		if _, err := web.ParseOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("upload origins: %w", err))
		}
	}
	l := c.Limits
	for name, d := range map[string]time.Duration{"read header timeout": l.ReadHeaderTimeout, "read timeout": l.ReadTimeout,
		"write timeout": l.WriteTimeout, "keep-alive timeout": l.KeepAliveTimeout, "drain timeout": l.DrainTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %v: must not be negative", name, d))
		}
	}
	switch http.CanonicalHeaderKey(c.ClientIPHeader) {
	case "", "X-Forwarded-For", "X-Real-Ip":
	default:
		errs = append(errs, fmt.Errorf("client IP header %q: want X-Forwarded-For or X-Real-IP", c.ClientIPHeader))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("public URL %q: want http(s)://host[:port][/path]", c.PublicURL))
		}
	}
	if c.RefreshTTL < 0 {
		errs = append(errs, fmt.Errorf("refresh TTL %v: must not be negative", c.RefreshTTL))
	}
	if c.TokenTTL < 0 || c.TokenTTL > MaxTokenTTL {
		errs = append(errs, fmt.Errorf("token TTL %v: want between 0 (default %v) and %v", c.TokenTTL, auth.DefaultTTL, MaxTokenTTL))
	}
	if c.Push != nil && (c.Push.ComponentAddr == "" || c.Push.ComponentSecret == "") {
		errs = append(errs, errors.New("push: the XEP-0114 component address and secret are required"))
	}
	return errors.Join(errs...)
}

// Server is a configured relay.
type Server struct {
	handler  http.Handler
	internal *xmppauth.OAuthBearer // the token check endpoint, in oauthbearer mode
	auth     *auth.Authority
	bridge   *bridge.Handler
	store    *store.Store
	limits   Limits
	log      *slog.Logger
	push     *push.Service
}

// Close releases the store; call it after Serve has returned.
func (s *Server) Close() error {
	if s.store != nil {
		return s.store.Close()
	}
	return nil
}

// New validates cfg and builds the relay. With a store, signing keys come from it (one is
// generated on first use) so tokens survive restarts; without, a key lives in memory only.
// Ending ctx closes every open bridge. Close the Server to release the store.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server: invalid config: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = slog.New(contextHandler{log.Handler()})
	domain := jid.MustParse(cfg.Domain).String() // normalized, as JIDs in tokens are
	lim := cfg.Limits.withDefaults()
	clientIP := ClientIPFunc(cfg.ClientIPHeader)

	var tlsConfig *tls.Config
	if cfg.UpstreamCAFile != "" {
		pem, err := os.ReadFile(cfg.UpstreamCAFile)
		if err != nil {
			return nil, fmt.Errorf("server: upstream CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("server: upstream CA %s: no PEM certificate in it", cfg.UpstreamCAFile)
		}
		tlsConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}

	var (
		st   *store.Store
		keys []auth.Key
	)
	if cfg.StorePath != "" {
		var err error
		if st, err = store.Open(cfg.StorePath, 0); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		sks, err := st.EnsureSigningKeys(time.Now())
		if err != nil {
			_ = st.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
		for _, k := range sks {
			keys = append(keys, auth.Key{ID: k.ID, Private: k.Private})
		}
	}
	ok := false
	defer func() {
		if !ok && st != nil {
			_ = st.Close()
		}
	}()
	authority, err := auth.NewAuthority(auth.Options{TTL: cfg.TokenTTL, Keys: keys})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	var assertions *auth.AssertionVerifier
	if cfg.Assertion != nil {
		if assertions, err = auth.NewAssertionVerifier(*cfg.Assertion); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	var (
		creds    xmppauth.Credentials
		internal *xmppauth.OAuthBearer
		checker  auth.PasswordChecker = &upstream.Checker{URL: cfg.Upstream, ForwardedProtoHTTPS: cfg.ForwardedProtoHTTPS, TLSConfig: tlsConfig}
		extra    map[string]string
	)
	switch cfg.UpstreamAuth {
	case UpstreamAuthJWT:
		if creds, err = xmppauth.NewJWT(cfg.UpstreamJWTSecret, 0, nil); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		extra = map[string]string{"xmpp_auth": "relay"}
	case UpstreamAuthOAuthBearer:
		internal, err = xmppauth.NewOAuthBearer(xmppauth.OAuthBearerOptions{ClientID: cmp.Or(cfg.OAuthClientID, "sparkweb"),
			ClientSecret: cfg.OAuthClientSecret, Logger: log.With("component", "oauthbearer")})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		// A server that only accepts the relay's bearer tokens cannot check a password.
		creds, checker, extra = internal, nil, map[string]string{"xmpp_auth": "relay"}
	}
	ws, err := bridge.New(ctx, bridge.Options{
		Verifier:            authority,
		Upstream:            cfg.Upstream,
		Credentials:         creds,
		AllowedOrigins:      cfg.AllowedOrigins,
		ForwardedProtoHTTPS: cfg.ForwardedProtoHTTPS,
		TLSConfig:           tlsConfig,
		MaxConnsPerJID:      off(lim.MaxConnsPerJID),
		MaxConnsPerIP:       off(lim.MaxConnsPerIP),
		MaxMessageSize:      lim.MaxStanzaSize,
		PingInterval:        lim.PingInterval,
		IdleTimeout:         lim.IdleTimeout,
		ClientIP:            clientIP,
		Logger:              log.With("component", "bridge"),
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}

	counters := &auth.Counters{}
	th := &auth.TokenHandler{
		Authority: authority,
		Checker:   checker,
		Extra:     extra,
		Domain:    domain,
		PerIP:     limit.NewRate(limit.RateConfig{Every: off(lim.TokenIPEvery), Burst: lim.TokenIPBurst}),
		PerAccount: limit.NewRate(limit.RateConfig{Every: off(lim.TokenAccountEvery), Burst: lim.TokenAccountBurst,
			Backoff: off(lim.TokenBackoff), FreeFailures: off(lim.TokenFreeFailures)}),
		ClientIP:   clientIP,
		Logger:     log.With("component", "token"),
		Counters:   counters,
		RefreshTTL: cfg.RefreshTTL,
		Assertions: assertions,
	}
	mux := http.NewServeMux()
	if st != nil {
		th.Refresh = st
		mux.Handle("/api/token/revoke", &auth.RevokeHandler{Refresh: st, Logger: log.With("component", "token")})
	}
	mux.Handle("/api/token", th)
	rh := &register.Handler{
		Domain:     domain,
		PerIP:      limit.NewRate(limit.RateConfig{Every: off(lim.TokenIPEvery), Burst: lim.TokenIPBurst}),
		PerAccount: limit.NewRate(limit.RateConfig{Every: off(lim.TokenAccountEvery), Burst: lim.TokenAccountBurst}),
		ClientIP:   clientIP,
		Logger:     log.With("component", "register"),
	}
	if cfg.AllowRegister {
		up := &upstream.Checker{URL: cfg.Upstream, ForwardedProtoHTTPS: cfg.ForwardedProtoHTTPS, TLSConfig: tlsConfig}
		rh.Dial = up.Dial
	}
	mux.Handle("/api/register", rh)
	mux.Handle("/ws", ws)
	var pushSvc *push.Service
	if cfg.Push != nil {
		pc := *cfg.Push
		pc.Domain, pc.Verifier, pc.Live, pc.Logger = domain, authority, ws.Live, log.With("component", "push")
		if st != nil {
			pc.Store = st // else the VAPID key and subscriptions live in memory
		}
		if pushSvc, err = push.New(pc); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		mux.Handle("/api/push/", pushSvc.Handler())
		go func() {
			if err := pushSvc.Run(ctx); err != nil {
				log.Error("push component stopped", "err", err)
			}
		}()
	}
	mux.Handle("GET /readyz", readiness(cfg.Upstream, domain, tlsConfig, log.With("component", "readyz")))
	mux.Handle("GET /metrics", &metrics{bridge: ws.Stats(), tokens: counters, push: pushSvc})
	hm := &hostMeta{publicURL: cfg.PublicURL}
	mux.Handle("GET /.well-known/host-meta", hm)
	mux.Handle("GET /.well-known/host-meta.json", hm)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok"))
	})
	if cfg.Assets != nil {
		assets, err := web.New(cfg.Assets, web.WithUploadOrigins(cfg.UploadOrigins...))
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		mux.Handle("/", assets)
	}
	ok = true
	return &Server{handler: requestIDs(securityHeaders(mux)), internal: internal, auth: authority, bridge: ws, store: st, limits: lim, log: log, push: pushSvc}, nil
}

// Push returns the Web Push service, nil when Config.Push was not set.
func (s *Server) Push() *push.Service { return s.push }

// Handler returns the relay's routes: POST /api/token, GET /ws, GET /healthz and the assets.
func (s *Server) Handler() http.Handler { return s.handler }

// securityHeaders adds the headers every response gets; pages get their CSP from package web.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// ClientIPFunc returns how the limits find a request's client address: from header (set by a
// trusted proxy) when given, else from the TCP peer.
func ClientIPFunc(header string) func(*http.Request) string {
	peer := func(r *http.Request) string {
		if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			return ip
		}
		return r.RemoteAddr
	}
	header = http.CanonicalHeaderKey(header)
	if header == "" {
		return peer
	}
	return func(r *http.Request) string {
		v := r.Header.Values(header)
		if len(v) == 0 {
			return peer(r)
		}
		// The proxy appends the address it saw; earlier entries are the client's to forge.
		last := v[len(v)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		if ip := strings.TrimSpace(last); ip != "" {
			return ip
		}
		return peer(r)
	}
}

// TLSFiles names a certificate and its key, PEM-encoded, for serving HTTPS.
type TLSFiles struct {
	CertFile, KeyFile string
}

// Serve serves the relay on ln until ctx ends, with TLS when tlsFiles is non-nil. Then it
// shuts down gracefully: it stops accepting, tells bridged clients to reconnect (close 1012),
// finishes requests in flight and returns once everything is drained or the drain timeout has
// passed, cutting what is left.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsFiles *TLSFiles) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.limits.ReadHeaderTimeout,
		// Go clears these deadlines when a connection is hijacked, so they do not cut bridges.
		ReadTimeout:    s.limits.ReadTimeout,
		WriteTimeout:   s.limits.WriteTimeout,
		IdleTimeout:    s.limits.KeepAliveTimeout,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() {
		if tlsFiles != nil {
			hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			errc <- hs.ServeTLS(ln, tlsFiles.CertFile, tlsFiles.KeyFile)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: draining", "deadline", s.limits.DrainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), s.limits.DrainTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var bridgeErr, httpErr error
	wg.Add(2)
	go func() { defer wg.Done(); bridgeErr = s.bridge.Shutdown(dctx) }()
	go func() {
		defer wg.Done()
		if httpErr = hs.Shutdown(dctx); httpErr != nil {
			_ = hs.Close()
		}
	}()
	wg.Wait()
	if err := errors.Join(bridgeErr, httpErr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("drained")
	return nil
}
