package register

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/auth"
	"github.com/sparkweb/sparkweb/relay/limit"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// DefaultTimeout bounds one registration, dial included.
const DefaultTimeout = 15 * time.Second

const (
	maxBodyBytes = 8 << 10
	maxPassword  = 1024
	maxEmail     = 320
)

// Handler serves /api/register.
type Handler struct {
	// Dial opens an unauthenticated stream to the XMPP server for domain, in RFC 7395 framing
	// (upstream.Checker.Dial). Nil turns registration off: every request gets not-allowed.
	Dial func(ctx context.Context, domain string) (net.Conn, error)
	// Domain is the XMPP domain accounts are created on.
	Domain string
	// PerIP, if set, limits requests per client address; PerAccount, registrations per name.
	PerIP, PerAccount *limit.Rate
	// ClientIP returns the address PerIP counts; the host of r.RemoteAddr if nil.
	ClientIP func(r *http.Request) string
	// Timeout bounds one request upstream; DefaultTimeout if zero.
	Timeout time.Duration
	// Logger receives one line per registration; slog.Default() if nil.
	Logger *slog.Logger
}

// FieldsResponse is the answer to GET /api/register.
type FieldsResponse struct {
	Domain       string         `json:"domain"`
	Instructions string         `json:"instructions"`
	Fields       []string       `json:"fields"`
	Form         *protocol.Form `json:"form,omitempty"`
}

// request is the body of POST /api/register.
type request struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email"`
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "use GET or POST")
		return
	}
	if h.Dial == nil {
		writeError(w, http.StatusForbidden, "not-allowed", "registration is off on this relay")
		return
	}
	if h.PerIP != nil {
		if wait, ok := h.PerIP.Allow(h.clientIP(r)); !ok {
			h.tooMany(w, wait, "from this address")
			return
		}
	}
	if r.Method == http.MethodGet {
		h.serveInfo(w, r)
		return
	}
	h.serveCreate(w, r)
}

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}

func (h *Handler) timeout() time.Duration {
	if h.Timeout == 0 {
		return DefaultTimeout
	}
	return h.Timeout
}

func (h *Handler) serveInfo(w http.ResponseWriter, r *http.Request) {
	if d := r.URL.Query().Get("domain"); d != "" && !sameDomain(d, h.Domain) {
		writeError(w, http.StatusBadRequest, "not-acceptable", "this relay only serves accounts on "+h.Domain)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout())
	defer cancel()
	conn, err := h.Dial(ctx, h.Domain)
	if err != nil {
		h.upstreamDown(w, r, err)
		return
	}
	defer conn.Close()
	info, err := fetchInfo(ctx, conn, h.Domain)
	if err != nil {
		h.upstreamError(w, r, "", err)
		return
	}
	resp := FieldsResponse{Domain: h.Domain, Instructions: info.Instructions, Fields: info.Fields}
	if info.Form != nil {
		f := info.Form.JSON()
		resp.Form = &f
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *Handler) serveCreate(w http.ResponseWriter, r *http.Request) {
	req, status, code, msg := readRequest(w, r)
	if code != "" {
		writeError(w, status, code, msg)
		return
	}
	user, msg := h.account(req.Username)
	if msg != "" {
		writeError(w, http.StatusBadRequest, "not-acceptable", msg)
		return
	}
	switch {
	case req.Password == "" || len(req.Password) > maxPassword || !utf8.ValidString(req.Password):
		writeError(w, http.StatusBadRequest, "not-acceptable", "the password must be valid UTF-8, 1 to 1024 bytes")
		return
	case len(req.Email) > maxEmail || !utf8.ValidString(req.Email) || strings.ContainsAny(req.Email, "\r\n"):
		writeError(w, http.StatusBadRequest, "not-acceptable", "invalid email")
		return
	}
	if h.PerAccount != nil {
		if wait, ok := h.PerAccount.Allow(user.String()); !ok {
			h.tooMany(w, wait, "for this account name")
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout())
	defer cancel()
	conn, err := h.Dial(ctx, h.Domain)
	if err != nil {
		h.upstreamDown(w, r, err)
		return
	}
	defer conn.Close()
	if err := create(ctx, conn, h.Domain, user.Localpart(), req.Password, req.Email); err != nil {
		h.upstreamError(w, r, user.String(), err)
		return
	}
	// Never log the password.
	h.log().InfoContext(r.Context(), "account registered", "jid", user.String())
	writeJSON(w, http.StatusCreated, map[string]string{"jid": user.String()})
}

// account turns a username (localpart or bare JID on our domain) into the account's JID, or
// says why it cannot be one.
func (h *Handler) account(username string) (jid.JID, string) {
	s := username
	if !strings.Contains(s, "@") {
		s += "@" + h.Domain
	}
	j, err := jid.Parse(s)
	switch {
	case username == "" || err != nil || j.Localpart() == "" || j.Resourcepart() != "":
		return jid.JID{}, "the username is not a valid XMPP localpart"
	case !sameDomain(j.Domainpart(), h.Domain):
		return jid.JID{}, "this relay only serves accounts on " + h.Domain
	}
	return j, ""
}

func sameDomain(a, b string) bool {
	ja, err1 := jid.Parse(a)
	jb, err2 := jid.Parse(b)
	return err1 == nil && err2 == nil && ja.Equal(jb)
}

// upstreamError answers with the server's refusal, by condition.
func (h *Handler) upstreamError(w http.ResponseWriter, r *http.Request, account string, err error) {
	var se *StanzaError
	if !errors.As(err, &se) {
		h.upstreamDown(w, r, err)
		return
	}
	h.log().InfoContext(r.Context(), "registration refused", "jid", account, "condition", se.Condition, "text", se.Text)
	status, code := http.StatusBadRequest, se.Condition
	switch se.Condition {
	case "conflict":
		status = http.StatusConflict
	case "not-allowed", "forbidden", "registration-required", "service-unavailable", "feature-not-implemented":
		status, code = http.StatusForbidden, "not-allowed"
	case "not-acceptable", "bad-request", "jid-malformed":
		code = "not-acceptable"
	case "resource-constraint", "policy-violation":
		status = http.StatusTooManyRequests
	}
	msg := se.Text
	if msg == "" {
		msg = "the XMPP server refused: " + se.Condition
	}
	writeError(w, status, code, msg)
}

func (h *Handler) upstreamDown(w http.ResponseWriter, r *http.Request, err error) {
	// The detail (upstream address, dial error) is for the operator, not for the page.
	h.log().WarnContext(r.Context(), "registration failed: XMPP server unreachable", "err", err)
	writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the XMPP server cannot be reached")
}

func (h *Handler) tooMany(w http.ResponseWriter, wait time.Duration, what string) {
	secs := max(int64((wait+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeError(w, http.StatusTooManyRequests, "too_many_requests", fmt.Sprintf("too many registrations %s; retry in %d s", what, secs))
}

func (h *Handler) clientIP(r *http.Request) string {
	if h.ClientIP != nil {
		return h.ClientIP(r)
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return ip
	}
	return r.RemoteAddr
}

// readRequest decodes a JSON or form body, bounded in size.
func readRequest(w http.ResponseWriter, r *http.Request) (req request, status int, code, msg string) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return req, http.StatusBadRequest, "invalid_request", "use Content-Type application/json or application/x-www-form-urlencoded"
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	switch mt {
	case "application/json":
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&req); err != nil || dec.More() {
			return req, http.StatusBadRequest, "invalid_request", "malformed JSON body"
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return req, http.StatusBadRequest, "invalid_request", "malformed form body"
		}
		req = request{Username: r.PostForm.Get("username"), Password: r.PostForm.Get("password"), Email: r.PostForm.Get("email")}
	default:
		return req, http.StatusBadRequest, "invalid_request", "use Content-Type application/json or application/x-www-form-urlencoded"
	}
	return req, 0, "", ""
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, auth.Error{Code: code, Description: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
