package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/limit"
	"github.com/sparkweb/sparkweb/relay/store"
)

// maxBodyBytes bounds a token request; a grant is a few hundred bytes at most.
const maxBodyBytes = 8 << 10

// ErrInvalidCredentials is wrapped by a PasswordChecker's error when the XMPP server rejected
// the username or password. Any other error means the server could not answer.
var ErrInvalidCredentials = errors.New("invalid credentials")

// PasswordChecker checks an XMPP password, normally with a real login upstream.
type PasswordChecker interface {
	// CheckPassword returns nil if password is user's, an error wrapping ErrInvalidCredentials
	// if the server says it is not, and any other error if the server could not be asked.
	CheckPassword(ctx context.Context, user jid.JID, password string) error
}

// TokenHandler serves POST /api/token: an OAuth 2.0-shaped password grant (RFC 6749 §4.3)
// answered with a relay JWT.
type TokenHandler struct {
	// Authority mints the tokens.
	Authority *Authority
	// Checker verifies passwords; nil turns the password grant off (an XMPP server that only
	// accepts the relay's own credentials cannot check a password).
	Checker PasswordChecker
	// Domain is the XMPP domain: a bare localpart gets it appended, other domains are refused.
	Domain string
	// PerIP, if set, limits token requests per client address (checked before the body is read).
	PerIP *limit.Rate
	// PerAccount, if set, limits grants per account and imposes a growing backoff after each
	// wrong password, so that guessing one user's password is slow from any number of addresses.
	PerAccount *limit.Rate
	// ClientIP returns the address PerIP counts; the host of r.RemoteAddr if nil.
	ClientIP func(r *http.Request) string
	// Logger receives one line per grant; slog.Default() if nil.
	Logger *slog.Logger
	// Counters, if set, counts tokens issued and refused by reason (for /metrics).
	Counters *Counters
	// Refresh, if set, enables the refresh_token grant: every grant also sets a rotating
	// refresh token in an HttpOnly cookie.
	Refresh RefreshStore
	// RefreshTTL is how long a refresh token stays valid; DefaultRefreshTTL if zero.
	RefreshTTL time.Duration
	// Assertions, if set, enables the jwt-bearer grant (RFC 7523) with site-minted JWTs.
	Assertions *AssertionVerifier
	// Now returns the current time; time.Now if nil.
	Now func() time.Time
	// Extra is added to every successful token response (e.g. "xmpp_auth": "relay").
	Extra map[string]string
}

// RefreshStore keeps refresh tokens by hash; *store.Store implements it.
type RefreshStore interface {
	PutRefresh(token string, rt store.RefreshToken) error
	UseRefresh(token string, now time.Time) (store.RefreshToken, error)
	RevokeRefresh(token string) error
}

// Grant types the token endpoint understands.
const (
	GrantPassword     = "password"
	GrantRefreshToken = "refresh_token"
	GrantJWTBearer    = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// Refresh token cookie settings.
const (
	// RefreshCookie names the cookie; it is scoped to /api/token, the only place it is read.
	RefreshCookie     = "sparkweb_refresh"
	refreshCookiePath = "/api/token"
	// DefaultRefreshTTL is how long a refresh token lives when unused.
	DefaultRefreshTTL = 30 * 24 * time.Hour
)

func (h *TokenHandler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// setRefreshCookie sends token (or, if empty, deletes the cookie).
func setRefreshCookie(w http.ResponseWriter, token string, ttl time.Duration) {
	c := &http.Cookie{Name: RefreshCookie, Value: token, Path: refreshCookiePath, MaxAge: int(ttl.Seconds()),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode}
	if token == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// issueRefresh stores a fresh refresh token in family (a new family if empty) and sets its cookie.
func (h *TokenHandler) issueRefresh(w http.ResponseWriter, user jid.JID, family string) error {
	ttl := cmp.Or(h.RefreshTTL, DefaultRefreshTTL)
	tok, err := randomToken()
	if err != nil {
		return err
	}
	if family == "" {
		if family, err = randomToken(); err != nil {
			return err
		}
	}
	if err := h.Refresh.PutRefresh(tok, store.RefreshToken{Family: family, JID: user.String(), Expires: h.now().Add(ttl)}); err != nil {
		return err
	}
	setRefreshCookie(w, tok, ttl)
	return nil
}

func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// RevokeHandler serves POST /api/token/revoke (RFC 7009-shaped): it revokes the refresh token
// given as the "token" parameter or in the cookie, with its whole family, and clears the cookie.
// It answers 200 whether or not the token was known, so it reveals nothing.
type RevokeHandler struct {
	Refresh RefreshStore
	Logger  *slog.Logger
}

// ServeHTTP implements http.Handler.
func (h *RevokeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		WriteError(w, &Error{Status: http.StatusMethodNotAllowed, Code: "invalid_request", Description: "use POST"})
		return
	}
	tok := ""
	if r.Header.Get("Content-Type") != "" {
		req, e := readTokenRequest(w, r)
		if e != nil {
			WriteError(w, e)
			return
		}
		tok = req.Token
	}
	if c, err := r.Cookie(RefreshCookie); tok == "" && err == nil {
		tok = c.Value
	}
	if tok != "" && h.Refresh != nil {
		if err := h.Refresh.RevokeRefresh(tok); err != nil {
			cmp.Or(h.Logger, slog.Default()).ErrorContext(r.Context(), "revoke refresh token", "err", err)
			WriteError(w, &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "could not revoke the token; retry"})
			return
		}
	}
	setRefreshCookie(w, "", 0)
	writeJSON(w, http.StatusOK, struct{}{})
}

// Counters count the token endpoint's outcomes; safe for concurrent use.
type Counters struct {
	mu      sync.Mutex
	issued  map[string]int64 // by grant type
	refused map[string]int64 // by error code
}

func (c *Counters) issue(grant string) {
	if c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.issued = incr(c.issued, grant)
	}
}

func (c *Counters) refuse(code string) {
	if c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.refused = incr(c.refused, code)
	}
}

func incr(m map[string]int64, k string) map[string]int64 {
	if m == nil {
		m = map[string]int64{}
	}
	m[k]++
	return m
}

// Snapshot returns copies of the issued (by grant type) and refused (by error code) counts.
func (c *Counters) Snapshot() (issued, refused map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.issued), maps.Clone(c.refused)
}

// tooMany is the refusal of a rate limit, with the wait in Retry-After.
func tooMany(w http.ResponseWriter, wait time.Duration, what string) *Error {
	secs := int64(math.Ceil(wait.Seconds()))
	secs = max(secs, 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	return &Error{Status: http.StatusTooManyRequests, Code: "too_many_requests",
		Description: fmt.Sprintf("too many attempts %s; retry in %d s", what, secs)}
}

func (h *TokenHandler) clientIP(r *http.Request) string {
	if h.ClientIP != nil {
		return h.ClientIP(r)
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return ip
	}
	return r.RemoteAddr
}

// tokenRequest holds the grant parameters, from a form or a JSON body.
type tokenRequest struct {
	GrantType    string `json:"grant_type"`
	Username     string `json:"username"`
	Password     string `json:"password"`
	RefreshToken string `json:"refresh_token"`
	Assertion    string `json:"assertion"`
	Token        string `json:"token"` // revocation
	cookie       string // the refresh cookie, if any
}

// tokenResponse is RFC 6749 §5.1's successful response (plus Extra fields).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// Error is an RFC 6749 §5.2 error response, also used by the bridge for its HTTP refusals.
type Error struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// Error implements error.
func (e *Error) Error() string { return e.Code + ": " + e.Description }

// WriteError writes e as JSON with its HTTP status.
func WriteError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, e)
}

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: fmt.Sprintf(format, args...)}
}

// ServeHTTP implements http.Handler.
func (h *TokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		WriteError(w, &Error{Status: http.StatusMethodNotAllowed, Code: "invalid_request", Description: "use POST"})
		return
	}
	if h.PerIP != nil {
		if wait, ok := h.PerIP.Allow(h.clientIP(r)); !ok {
			e := tooMany(w, wait, "from this address")
			log.WarnContext(r.Context(), "token refused: rate limit", "ip", h.clientIP(r), "retry_after", wait.Round(time.Second))
			h.Counters.refuse("rate_limited")
			WriteError(w, e)
			return
		}
	}
	req, e := readTokenRequest(w, r)
	if e != nil {
		h.Counters.refuse(e.Code)
		WriteError(w, e)
		return
	}
	if c, err := r.Cookie(RefreshCookie); err == nil {
		req.cookie = c.Value
	}
	user, family, e := h.grant(r.Context(), w, log, req)
	if e != nil {
		// Never log the password; the username is what an operator needs to help a user.
		log.InfoContext(r.Context(), "token refused", "username", req.Username, "error", e.Code, "reason", e.Description)
		code := e.Code
		if e.Status == http.StatusTooManyRequests {
			code = "rate_limited"
		}
		h.Counters.refuse(code)
		WriteError(w, e)
		return
	}
	tok, err := h.Authority.Mint(user)
	if err != nil {
		log.ErrorContext(r.Context(), "mint token", "jid", user.String(), "err", err)
		WriteError(w, &Error{Status: http.StatusInternalServerError, Code: "server_error", Description: "could not issue a token"})
		return
	}
	if h.Refresh != nil {
		if err := h.issueRefresh(w, user, family); err != nil {
			log.ErrorContext(r.Context(), "issue refresh token", "jid", user.String(), "err", err)
			WriteError(w, &Error{Status: http.StatusInternalServerError, Code: "server_error", Description: "could not issue a token"})
			return
		}
	}
	log.InfoContext(r.Context(), "token issued", "jid", user.String(), "grant", req.GrantType, "expires", tok.Expires)
	h.Counters.issue(req.GrantType)
	resp := map[string]any{"access_token": tok.Raw, "token_type": "Bearer", "expires_in": int64(h.Authority.TTL().Seconds())}
	for k, v := range h.Extra {
		resp[k] = v
	}
	writeJSON(w, http.StatusOK, resp)
}

// grant dispatches on the grant type. It returns the bare JID to put in the token and, for a
// refresh, the family the new refresh token continues.
func (h *TokenHandler) grant(ctx context.Context, w http.ResponseWriter, log *slog.Logger, req tokenRequest) (jid.JID, string, *Error) {
	var supported []string
	if h.Checker != nil {
		supported = append(supported, GrantPassword)
	}
	if h.Refresh != nil {
		supported = append(supported, GrantRefreshToken)
	}
	if h.Assertions != nil {
		supported = append(supported, GrantJWTBearer)
	}
	switch {
	case req.GrantType == "":
		return jid.JID{}, "", badRequest("missing grant_type")
	case req.GrantType == GrantPassword && h.Checker != nil:
		user, e := h.passwordGrant(ctx, w, log, req)
		return user, "", e
	case req.GrantType == GrantRefreshToken && h.Refresh != nil:
		return h.refreshGrant(ctx, w, log, req)
	case req.GrantType == GrantJWTBearer && h.Assertions != nil:
		user, e := h.assertionGrant(ctx, w, log, req)
		return user, "", e
	}
	return jid.JID{}, "", &Error{Status: http.StatusBadRequest, Code: "unsupported_grant_type",
		Description: fmt.Sprintf("grant_type %q is not supported here; use one of %q", req.GrantType, supported)}
}

// refreshGrant exchanges a refresh token, once. A second use of the same token revokes every
// token descended from the same sign-in.
func (h *TokenHandler) refreshGrant(ctx context.Context, w http.ResponseWriter, log *slog.Logger, req tokenRequest) (jid.JID, string, *Error) {
	tok := cmp.Or(req.RefreshToken, req.cookie)
	if tok == "" {
		return jid.JID{}, "", badRequest("missing refresh token (cookie %s or parameter refresh_token)", RefreshCookie)
	}
	rt, err := h.Refresh.UseRefresh(tok, h.now())
	switch {
	case errors.Is(err, store.ErrReused):
		setRefreshCookie(w, "", 0)
		log.WarnContext(ctx, "refresh token reused: family revoked", "jid", rt.JID)
		return jid.JID{}, "", &Error{Status: http.StatusBadRequest, Code: "invalid_grant",
			Description: "refresh token was already used; every session of this sign-in is revoked, sign in again"}
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		setRefreshCookie(w, "", 0)
		return jid.JID{}, "", &Error{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "refresh token is invalid, expired or revoked"}
	case err != nil:
		log.ErrorContext(ctx, "refresh token store", "err", err)
		return jid.JID{}, "", &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "could not check the refresh token; retry"}
	}
	user, err := jid.Parse(rt.JID)
	if err != nil {
		return jid.JID{}, "", &Error{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "refresh token is invalid"}
	}
	if h.PerAccount != nil {
		if wait, ok := h.PerAccount.Allow(user.String()); !ok {
			return jid.JID{}, "", tooMany(w, wait, "for this account")
		}
	}
	return user, rt.Family, nil
}

// assertionGrant accepts a JWT minted by the embedding site (RFC 7523 §2.1).
func (h *TokenHandler) assertionGrant(ctx context.Context, w http.ResponseWriter, log *slog.Logger, req tokenRequest) (jid.JID, *Error) {
	if req.Assertion == "" {
		return jid.JID{}, badRequest("missing assertion")
	}
	name, err := h.Assertions.Verify(req.Assertion)
	if err != nil {
		log.InfoContext(ctx, "assertion refused", "err", err)
		return jid.JID{}, &Error{Status: http.StatusBadRequest, Code: "invalid_grant", Description: err.Error()}
	}
	user, e := h.userJID(name)
	if e != nil {
		return jid.JID{}, e
	}
	if h.PerAccount != nil {
		if wait, ok := h.PerAccount.Allow(user.String()); !ok {
			return jid.JID{}, tooMany(w, wait, "for this account")
		}
	}
	return user, nil
}

// passwordGrant checks the password upstream; it returns the bare JID to put in the token.
func (h *TokenHandler) passwordGrant(ctx context.Context, w http.ResponseWriter, log *slog.Logger, req tokenRequest) (jid.JID, *Error) {
	if req.Username == "" {
		return jid.JID{}, badRequest("missing username")
	}
	if req.Password == "" {
		return jid.JID{}, badRequest("missing password")
	}
	user, e := h.userJID(req.Username)
	if e != nil {
		return jid.JID{}, e
	}
	account := user.String()
	if h.PerAccount != nil {
		if wait, ok := h.PerAccount.Allow(account); !ok {
			return jid.JID{}, tooMany(w, wait, "for this account")
		}
	}
	err := h.Checker.CheckPassword(ctx, user, req.Password)
	switch {
	case err == nil:
		if h.PerAccount != nil {
			h.PerAccount.Succeed(account)
		}
		return user, nil
	case errors.Is(err, ErrInvalidCredentials):
		if h.PerAccount != nil {
			h.PerAccount.Fail(account)
		}
		return jid.JID{}, &Error{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "wrong username or password"}
	default:
		// The detail (upstream address, dial error) is for the operator, not for the page.
		log.WarnContext(ctx, "password check failed: XMPP server unreachable", "jid", user.String(), "err", err)
		return jid.JID{}, &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
			Description: "the XMPP server cannot be reached"}
	}
}

// userJID turns a username into the bare JID it names on this relay's domain.
func (h *TokenHandler) userJID(username string) (jid.JID, *Error) {
	s := username
	if !strings.Contains(s, "@") {
		s += "@" + h.Domain
	}
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, badRequest("username %q is not a valid JID: %v", username, err)
	}
	if j.Localpart() == "" || j.Resourcepart() != "" {
		return jid.JID{}, badRequest("username %q must be a bare JID (user@domain) or a localpart", username)
	}
	domain, err := jid.Parse(h.Domain)
	if err != nil || !j.Domain().Equal(domain) {
		return jid.JID{}, &Error{Status: http.StatusBadRequest, Code: "invalid_grant",
			Description: fmt.Sprintf("this relay only serves accounts on %s", h.Domain)}
	}
	return j, nil
}

// readTokenRequest decodes a form or JSON body, bounded in size.
func readTokenRequest(w http.ResponseWriter, r *http.Request) (tokenRequest, *Error) {
	var req tokenRequest
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return req, badRequest("missing Content-Type; use application/x-www-form-urlencoded or application/json")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return req, badRequest("bad Content-Type %q: %v", ct, err)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	switch mt {
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return req, bodyError(err)
		}
		// PostForm only: credentials in the query string would end up in access logs.
		for _, k := range []string{"grant_type", "username", "password", "refresh_token", "assertion", "token"} {
			if len(r.PostForm[k]) > 1 {
				return req, badRequest("parameter %s given more than once", k)
			}
		}
		req = tokenRequest{
			GrantType:    r.PostForm.Get("grant_type"),
			Username:     r.PostForm.Get("username"),
			Password:     r.PostForm.Get("password"),
			RefreshToken: r.PostForm.Get("refresh_token"),
			Assertion:    r.PostForm.Get("assertion"),
			Token:        r.PostForm.Get("token"),
		}
	case "application/json":
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&req); err != nil {
			return req, bodyError(err)
		}
		if dec.More() {
			return req, badRequest("body holds more than one JSON value")
		}
	default:
		return req, badRequest("unsupported Content-Type %q; use application/x-www-form-urlencoded or application/json", mt)
	}
	return req, nil
}

func bodyError(err error) *Error {
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "invalid_request",
			Description: fmt.Sprintf("body larger than %d bytes", mbe.Limit)}
	}
	return badRequest("malformed body: %v", err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// RFC 6749 §5.1: token responses, and errors alike, must not be cached.
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
