package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"mellium.im/xmpp/jid"
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
	// Checker verifies passwords.
	Checker PasswordChecker
	// Domain is the XMPP domain: a bare localpart gets it appended, other domains are refused.
	Domain string
	// Logger receives one line per grant; slog.Default() if nil.
	Logger *slog.Logger
}

// tokenRequest holds the grant parameters, from a form or a JSON body.
type tokenRequest struct {
	GrantType string `json:"grant_type"`
	Username  string `json:"username"`
	Password  string `json:"password"`
}

// tokenResponse is RFC 6749 §5.1's successful response.
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
	req, e := readTokenRequest(w, r)
	if e != nil {
		WriteError(w, e)
		return
	}
	user, e := h.grant(r.Context(), log, req)
	if e != nil {
		// Never log the password; the username is what an operator needs to help a user.
		log.InfoContext(r.Context(), "token refused", "username", req.Username, "error", e.Code, "reason", e.Description)
		WriteError(w, e)
		return
	}
	tok, err := h.Authority.Mint(user)
	if err != nil {
		log.ErrorContext(r.Context(), "mint token", "jid", user.String(), "err", err)
		WriteError(w, &Error{Status: http.StatusInternalServerError, Code: "server_error", Description: "could not issue a token"})
		return
	}
	log.InfoContext(r.Context(), "token issued", "jid", user.String(), "expires", tok.Expires)
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: tok.Raw,
		TokenType:   "Bearer",
		ExpiresIn:   int64(h.Authority.TTL().Seconds()),
	})
}

// grant validates req and checks the password; it returns the bare JID to put in the token.
func (h *TokenHandler) grant(ctx context.Context, log *slog.Logger, req tokenRequest) (jid.JID, *Error) {
	switch req.GrantType {
	case "":
		return jid.JID{}, badRequest("missing grant_type")
	case "password":
	default:
		return jid.JID{}, &Error{Status: http.StatusBadRequest, Code: "unsupported_grant_type",
			Description: fmt.Sprintf("grant_type %q is not supported; use \"password\"", req.GrantType)}
	}
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
	err := h.Checker.CheckPassword(ctx, user, req.Password)
	switch {
	case err == nil:
		return user, nil
	case errors.Is(err, ErrInvalidCredentials):
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
		for _, k := range []string{"grant_type", "username", "password"} {
			if len(r.PostForm[k]) > 1 {
				return req, badRequest("parameter %s given more than once", k)
			}
		}
		req = tokenRequest{
			GrantType: r.PostForm.Get("grant_type"),
			Username:  r.PostForm.Get("username"),
			Password:  r.PostForm.Get("password"),
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
