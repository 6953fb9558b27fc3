package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/relay/bridge"
	"github.com/sparkweb/sparkweb/relay/push"
)

// readiness answers /readyz: 200 when the upstream accepts a TCP connection (with TLS for
// wss:// and xmpps://, verified for domain on xmpps://), 503 otherwise. Results are cached briefly so the probe cannot be used to hammer the
// XMPP server through the relay.
func readiness(upstream, domain string, tlsConfig *tls.Config, log *slog.Logger) http.Handler {
	u, _ := url.Parse(upstream) // validated by Config.Validate
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"ws": "80", "wss": "443", "xmpp": "5222", "xmpps": "5223"}[u.Scheme])
	}
	var (
		mu      sync.Mutex
		checked time.Time
		lastErr error
	)
	check := func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(checked) < 2*time.Second {
			return lastErr
		}
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		var c net.Conn
		var err error
		if u.Scheme == "wss" || u.Scheme == "xmpps" {
			name := u.Hostname()
			if u.Scheme == "xmpps" {
				name = domain // XMPP certificates name the domain (RFC 7590)
			}
			cfg := &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12}
			if tlsConfig != nil {
				cfg = tlsConfig.Clone()
				cfg.ServerName = name
			}
			c, err = (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", host)
		} else {
			c, err = (&net.Dialer{}).DialContext(ctx, "tcp", host)
		}
		if err == nil {
			_ = c.Close()
		}
		checked, lastErr = time.Now(), err
		return err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := check(r.Context()); err != nil {
			log.DebugContext(r.Context(), "readyz: upstream unreachable", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("upstream unreachable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}

// metrics serves the Prometheus text exposition format (version 0.0.4), written by hand: a
// dozen series do not justify a client library.
type metrics struct {
	bridge *bridge.Stats
	tokens *auth.Counters
	push   *push.Service // nil without Web Push
}

func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var b strings.Builder
	metric := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	labelled := func(name, label string, values map[string]int64) {
		for _, k := range slices.Sorted(maps.Keys(values)) {
			fmt.Fprintf(&b, "%s{%s=%q} %d\n", name, label, k, values[k])
		}
	}
	metric("sparkweb_bridges_open", "gauge", "WebSocket bridges open now.")
	fmt.Fprintf(&b, "sparkweb_bridges_open %d\n", m.bridge.Open.Load())
	metric("sparkweb_bridges_opened_total", "counter", "WebSocket bridges opened.")
	fmt.Fprintf(&b, "sparkweb_bridges_opened_total %d\n", m.bridge.Opened.Load())
	metric("sparkweb_bridge_bytes_total", "counter", "Message bytes forwarded by the bridges.")
	fmt.Fprintf(&b, "sparkweb_bridge_bytes_total{direction=\"to_server\"} %d\n", m.bridge.BytesToServer.Load())
	fmt.Fprintf(&b, "sparkweb_bridge_bytes_total{direction=\"to_client\"} %d\n", m.bridge.BytesToClient.Load())
	refused := map[string]int64{}
	m.bridge.Refused.Range(func(k, v any) bool {
		refused[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	metric("sparkweb_bridges_refused_total", "counter", "Bridge requests refused, by reason.")
	labelled("sparkweb_bridges_refused_total", "reason", refused)
	issued, tokRefused := m.tokens.Snapshot()
	metric("sparkweb_tokens_issued_total", "counter", "Relay tokens issued, by grant type.")
	labelled("sparkweb_tokens_issued_total", "grant", issued)
	metric("sparkweb_tokens_refused_total", "counter", "Token requests refused, by OAuth error code (rate_limited for 429).")
	labelled("sparkweb_tokens_refused_total", "reason", tokRefused)
	if m.push != nil {
		m.push.WriteMetrics(&b)
	}
	_, _ = w.Write([]byte(b.String()))
}

// hostMeta serves XEP-0156 discovery of the bridge, as XRD (host-meta) and JSON (host-meta.json).
type hostMeta struct {
	publicURL string
}

const wsRel = "urn:xmpp:alt-connections:websocket"

func (h *hostMeta) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	href := h.endpoint(r)
	// Discovery is public by nature; any page may read it (XEP-0156 §3.2).
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "max-age=3600")
	if strings.HasSuffix(r.URL.Path, ".json") {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"links": []map[string]string{{"rel": wsRel, "href": href}}})
		return
	}
	w.Header().Set("Content-Type", "application/xrd+xml; charset=utf-8")
	type link struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	}
	doc := struct {
		XMLName xml.Name `xml:"http://docs.oasis-open.org/ns/xri/xrd-1.0 XRD"`
		Links   []link   `xml:"Link"`
	}{Links: []link{{Rel: wsRel, Href: href}}}
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(doc)
}

// endpoint is the bridge's ws(s):// URL as the client reaches it.
func (h *hostMeta) endpoint(r *http.Request) string {
	base := h.publicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	base = strings.TrimRight(base, "/")
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest + "/ws"
	}
	return "ws://" + strings.TrimPrefix(base, "http://") + "/ws"
}

// requestIDKey keys the request id in a context.
type requestIDKey struct{}

// requestIDs gives every request an id: the client's X-Request-Id when it is short and plain,
// a random one otherwise. It is echoed in the response and added to every log line written
// with the request's context (see contextHandler).
func requestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !plainID(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

func plainID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// contextHandler adds the request id of a record's context to the record.
type contextHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(as)}
}

// WithGroup implements slog.Handler.
func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}
