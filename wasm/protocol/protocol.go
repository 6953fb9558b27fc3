// Package protocol defines the JSON messages between tabs and the SparkWeb engine, as written
// down in docs/protocol.md. It has no transport: the SharedWorker host, a dedicated worker or a
// relay-hosted engine can all carry these values.
package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Request is a tab's call: {id, op, args}.
type Request struct {
	ID   json.RawMessage `json:"id"`
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args,omitempty"`
}

// Response answers one Request: {id, ok, result} or {id, ok: false, error}.
type Response struct {
	ID     json.RawMessage `json:"id"`
	OK     bool            `json:"ok"`
	Result any             `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// Event is broadcast to every attached tab: {event, data}.
type Event struct {
	Event string `json:"event"`
	Data  any    `json:"data"`
}

// Error codes with a meaning of their own; XMPP stanza error conditions are passed through too.
const (
	CodeBadRequest        = "bad-request"
	CodeNotImplemented    = "feature-not-implemented"
	CodeNotConnected      = "not-connected"
	CodeNotAuthorized     = "not-authorized"
	CodeServerUnreachable = "server-unreachable"
	CodeConflict          = "conflict"
	CodeInternal          = "internal-server-error"
)

// Error is an error value with a stable code, safe to show a user: never a stack trace.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf makes an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError turns any error into an *Error, keeping the code of one found in the chain.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}

// DecodeArgs unmarshals a request's args into v, strictly, as a bad-request error on failure.
func DecodeArgs(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return Errorf(CodeBadRequest, "bad args: %v", err)
	}
	return nil
}

// Session states, the data of the "session" event.
const (
	StateOffline      = "offline"
	StateConnecting   = "connecting"
	StateOnline       = "online"
	StateReconnecting = "reconnecting"
	StateAuthFailed   = "auth-failed"
)

// Session is the data of the "session" event and the snapshot's session.
type Session struct {
	State string `json:"state"`
	JID   string `json:"jid"`
	Error *Error `json:"error,omitempty"`
}

// RosterItem is one contact.
type RosterItem struct {
	JID          string   `json:"jid"`
	Name         string   `json:"name"`
	Subscription string   `json:"subscription"`
	Ask          bool     `json:"ask"`
	Groups       []string `json:"groups"`
}

// Roster is the data of the "roster" event: the whole list when Full, otherwise changes. A large
// roster is sent in chunks: the first has Full, the ones after it add to it, and More says
// another chunk follows.
type Roster struct {
	Items []RosterItem `json:"items"`
	Full  bool         `json:"full"`
	More  bool         `json:"more,omitempty"`
}

// Presence is the availability of one full JID.
type Presence struct {
	JID      string `json:"jid"`
	Bare     string `json:"bare"`
	Show     string `json:"show"`
	Status   string `json:"status"`
	Priority int    `json:"priority"`
	// IdleSince is when the user went idle (XEP-0319), RFC 3339 in UTC, or "" when not idle.
	IdleSince string `json:"idleSince,omitempty"`
}

// Subscription is the data of the "subscription" event: a presence subscription stanza from a
// contact. Type is subscribe (asks to see our presence), subscribed (approved our request),
// unsubscribe (stopped seeing our presence or withdrew its request) or unsubscribed (denied or
// revoked our subscription).
type Subscription struct {
	JID    string `json:"jid"`
	Type   string `json:"type"`
	Status string `json:"status,omitempty"`
}

// Requests is the data of the "requests" event: every subscription request awaiting an answer.
type Requests struct {
	Items []Subscription `json:"items"`
}

// Message is one chat message, incoming or outgoing.
type Message struct {
	ID        string `json:"id"`
	From      string `json:"from"`
	To        string `json:"to"`
	With      string `json:"with"`
	Body      string `json:"body"`
	Timestamp string `json:"timestamp"`
	Outgoing  bool   `json:"outgoing"`
	// StanzaID is the id of the message in the account's archive (XEP-0359), once known; it is
	// the cursor for paging back with chat.history.
	StanzaID string `json:"stanzaId,omitempty"`
	// State of an outgoing message: "pending" until the server has it, then "sent", then
	// "delivered" (XEP-0184) and "read" (XEP-0333); "error" when the server or the peer refused it.
	State string `json:"state,omitempty"`
	// Error says why State is "error".
	Error *Error `json:"error,omitempty"`
	// CorrectedAt is when the sender last corrected the body (XEP-0308).
	CorrectedAt string `json:"correctedAt,omitempty"`
	// Retracted is true once the sender retracted the message (XEP-0424); Body is then empty.
	Retracted bool `json:"retracted,omitempty"`
	// Reactions holds each reacting bare JID's current reactions (XEP-0444).
	Reactions map[string][]string `json:"reactions,omitempty"`
	// ReplyTo names the message this one answers (XEP-0461).
	ReplyTo *ReplyTo `json:"replyTo,omitempty"`
	// Styled is Body split into styled spans (XEP-0393), present only when Body has styling.
	// It is plain text plus style names: never markup.
	Styled []Span `json:"styled,omitempty"`
}

// ReplyTo is the message a reply refers to: its id and its author's JID.
type ReplyTo struct {
	ID string `json:"id"`
	To string `json:"to,omitempty"`
}

// Span is a run of text with the same styles. Kinds holds any of strong, emphasis, strike, code
// (inline preformatted), pre (preformatted block), quote, and directive (the styling characters
// themselves, which a view may hide). Quote is the block quote depth.
type Span struct {
	Text  string   `json:"text"`
	Kinds []string `json:"kinds,omitempty"`
	Quote int      `json:"quote,omitempty"`
}

// Outgoing message states, in the order they advance; MessageError may replace any of them.
const (
	MessagePending   = "pending"
	MessageSent      = "sent"
	MessageDelivered = "delivered"
	MessageRead      = "read"
	MessageError     = "error"
)

// Receipt is the data of the "receipt" event: the peer's client received message ID (XEP-0184).
type Receipt struct {
	ID   string `json:"id"`
	From string `json:"from"`
	With string `json:"with"`
}

// Displayed is the data of the "displayed" event: a chat marker (XEP-0333) saying the message ID
// and those before it in the conversation With were shown to the user. Outgoing is true when this
// account displayed them (in this or another client), false when the peer did.
type Displayed struct {
	ID       string `json:"id"`
	From     string `json:"from"`
	With     string `json:"with"`
	Outgoing bool   `json:"outgoing"`
}

// ChatState is the data of the "chatstate" event (XEP-0085): active, composing, paused,
// inactive or gone.
type ChatState struct {
	From  string `json:"from"`
	With  string `json:"with"`
	State string `json:"state"`
}

// History is the result of chat.history: one page, oldest first.
type History struct {
	Messages []Message `json:"messages"`
	// Complete is true when there is nothing older in the archive.
	Complete bool `json:"complete"`
}

// Snapshot is what a tab gets on attach: the engine's whole client state.
type Snapshot struct {
	Session       Session              `json:"session"`
	Roster        []RosterItem         `json:"roster"`
	Presence      []Presence           `json:"presence"`
	Conversations map[string][]Message `json:"conversations"`
	// Requests are the subscription requests awaiting an answer.
	Requests []Subscription `json:"requests"`
}
