package push

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/relay/store"
)

// maxBody caps a subscription request; a PushSubscription's JSON is well under 1 KiB.
const maxBody = 8 << 10

// Registration is the answer to a subscription: what the engine enables XEP-0357 with.
type Registration struct {
	// Service is the component's JID, the enable's jid attribute.
	Service string `json:"service"`
	// Node is the account's node.
	Node string `json:"node"`
	// Secret goes into the enable's publish-options.
	Secret string `json:"secret"`
}

// Handler serves GET /api/push/vapid, and POST and DELETE /api/push/subscriptions (with a
// relay JWT as Authorization: Bearer).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/push/vapid", s.serveVAPID)
	mux.HandleFunc("POST /api/push/subscriptions", s.serveSubscribe)
	mux.HandleFunc("DELETE /api/push/subscriptions", s.serveUnsubscribe)
	mux.HandleFunc("/api/push/subscriptions", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", "POST, DELETE")
		auth.WriteError(w, &auth.Error{Status: http.StatusMethodNotAllowed, Code: "invalid_request", Description: "use POST to subscribe or DELETE to unsubscribe"})
	})
	return mux
}

func (s *Service) serveVAPID(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"publicKey": s.vapidPub})
}

// subscriptionJSON is the browser's PushSubscription.toJSON(); other members (expirationTime)
// are ignored.
type subscriptionJSON struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256DH string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

func (s *Service) serveSubscribe(w http.ResponseWriter, r *http.Request) {
	user, ok := s.authorize(w, r)
	if !ok {
		return
	}
	var body subscriptionJSON
	if !decodeBody(w, r, &body) {
		return
	}
	if _, err := validEndpoint(body.Endpoint, s.cfg.AllowLoopbackHTTP); err != nil {
		auth.WriteError(w, &auth.Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: err.Error()})
		return
	}
	if err := validKeys(body.Keys.P256DH, body.Keys.Auth); err != nil {
		auth.WriteError(w, &auth.Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: err.Error()})
		return
	}
	sub := store.PushSubscription{Endpoint: body.Endpoint, P256DH: body.Keys.P256DH, Auth: body.Keys.Auth, Created: time.Now().UTC()}
	reg, evicted, err := s.cfg.Store.PushSubscribe(user, sub, s.cfg.MaxSubscriptions, newNode)
	if err != nil {
		s.log.ErrorContext(r.Context(), "push: subscribe", "jid", user, "err", err)
		auth.WriteError(w, &auth.Error{Status: http.StatusInternalServerError, Code: "server_error", Description: "could not store the subscription"})
		return
	}
	for _, e := range evicted {
		s.log.InfoContext(r.Context(), "push: oldest subscription evicted", "jid", user, "endpoint_host", hostOf(e.Endpoint), "max", s.cfg.MaxSubscriptions)
	}
	s.log.InfoContext(r.Context(), "push: subscribed", "jid", user, "endpoint_host", hostOf(sub.Endpoint), "subscriptions", len(reg.Subscriptions))
	writeJSON(w, http.StatusCreated, Registration{Service: s.component.String(), Node: reg.Node, Secret: reg.Secret})
}

func (s *Service) serveUnsubscribe(w http.ResponseWriter, r *http.Request) {
	user, ok := s.authorize(w, r)
	if !ok {
		return
	}
	var body struct {
		Endpoint string `json:"endpoint"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Endpoint == "" {
		auth.WriteError(w, &auth.Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: "endpoint: required"})
		return
	}
	found, remaining, err := s.cfg.Store.PushUnsubscribe(user, body.Endpoint)
	if err != nil {
		s.log.ErrorContext(r.Context(), "push: unsubscribe", "jid", user, "err", err)
		auth.WriteError(w, &auth.Error{Status: http.StatusInternalServerError, Code: "server_error", Description: "could not remove the subscription"})
		return
	}
	if !found {
		auth.WriteError(w, &auth.Error{Status: http.StatusNotFound, Code: "not_found", Description: "no such subscription for this account"})
		return
	}
	// remaining tells the engine whether other devices still use the account's registration:
	// only when none do should it disable push on the XMPP server.
	writeJSON(w, http.StatusOK, map[string]int{"remaining": remaining})
}

// authorize checks the bearer token and returns its bare JID, or answers 401.
func (s *Service) authorize(w http.ResponseWriter, r *http.Request) (string, bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sparkweb"`)
		auth.WriteError(w, &auth.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "missing Authorization: Bearer token"})
		return "", false
	}
	j, err := s.cfg.Verifier.Verify(strings.TrimSpace(token))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sparkweb", error="invalid_token"`)
		auth.WriteError(w, &auth.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "access token is invalid or expired"})
		return "", false
	}
	return j.Bare().String(), true
}

// decodeBody reads a JSON body of at most maxBody bytes into v, or answers 400/413/415.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		auth.WriteError(w, &auth.Error{Status: http.StatusUnsupportedMediaType, Code: "invalid_request", Description: "send application/json"})
		return false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		auth.WriteError(w, &auth.Error{Status: http.StatusRequestEntityTooLarge, Code: "invalid_request", Description: fmt.Sprintf("body over %d bytes", maxBody)})
		return false
	}
	if err != nil {
		auth.WriteError(w, &auth.Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: "could not read the body"})
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		auth.WriteError(w, &auth.Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: fmt.Sprintf("body is not the expected JSON: %v", err)})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newNode makes a node and secret: random, so neither says whose they are or can be guessed.
func newNode() (node, secret string) {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b[:16]), base64.RawURLEncoding.EncodeToString(b[16:])
}

// hostOf is what logs show of an endpoint: its path is a capability and stays out of logs.
func hostOf(endpoint string) string {
	rest, _ := strings.CutPrefix(endpoint, "https://")
	rest, _ = strings.CutPrefix(rest, "http://")
	host, _, _ := strings.Cut(rest, "/")
	return host
}
