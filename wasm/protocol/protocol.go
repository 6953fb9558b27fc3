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
	// Caps is the entity capabilities (XEP-0115) verification string the resource announced:
	// disco.features tells what it supports.
	Caps string `json:"caps,omitempty"`
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
	// Moderated is set when a room moderator retracted the message (XEP-0425).
	Moderated *Moderated `json:"moderated,omitempty"`
	// Reactions holds each reacting bare JID's current reactions (XEP-0444). In a room the key
	// is the occupant: its real bare JID when the room shows it, else its occupant id
	// (XEP-0421, as in Occupant.OccupantID: no "@"), else its occupant JID room@service/nick.
	Reactions map[string][]string `json:"reactions,omitempty"`
	// ReplyTo names the message this one answers (XEP-0461).
	ReplyTo *ReplyTo `json:"replyTo,omitempty"`
	// Styled is Body split into styled spans (XEP-0393), present only when Body has styling.
	// It is plain text plus style names: never markup.
	Styled []Span `json:"styled,omitempty"`
	// Type is "groupchat" for a room message (XEP-0045); empty for one-to-one chat.
	Type string `json:"type,omitempty"`
	// Nick is the author's nickname in the room, for groupchat messages and private messages
	// through a room (Type "chat", With the occupant JID room@service/nick).
	Nick string `json:"nick,omitempty"`
	// OccupantID is the author's occupant id in the room (XEP-0421), when the room gives one.
	OccupantID string `json:"occupantId,omitempty"`
	// Mentioned is true when a room message names our nickname or references us (XEP-0372).
	Mentioned bool `json:"mentioned,omitempty"`
	// OOB is a file or link the message points to (XEP-0066), e.g. an HTTP upload.
	OOB *OOB `json:"oob,omitempty"`
}

// Moderated says who retracted a room message as its moderator, and why (XEP-0425). By is the
// moderator's occupant JID, when the room tells.
type Moderated struct {
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// OOB is an out-of-band link (XEP-0066): the URL of a shared file and its description.
type OOB struct {
	URL  string `json:"url"`
	Desc string `json:"desc,omitempty"`
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
	// Nick is the occupant's nickname for a chat state in a room (From is room@service/nick).
	Nick string `json:"nick,omitempty"`
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
	// Rooms are the group chats joined or being joined; Occupants their occupants by room.
	Rooms     []Room                `json:"rooms"`
	Occupants map[string][]Occupant `json:"occupants"`
	// Bookmarks are the account's room bookmarks (XEP-0402).
	Bookmarks []Bookmark `json:"bookmarks"`
	// Avatars holds the avatar hash of each bare JID known to have one (ours included).
	Avatars map[string]string `json:"avatars"`
	// Blocked are the JIDs on the account's blocklist (XEP-0191).
	Blocked []string `json:"blocked"`
}

// Room states.
const (
	RoomJoining = "joining"
	RoomJoined  = "joined"
	RoomLeft    = "left"
	RoomError   = "error"
)

// Room is a group chat (XEP-0045) and our place in it: the data of the "room" event.
type Room struct {
	JID         string `json:"jid"`
	Name        string `json:"name"`
	Nick        string `json:"nick"`
	Subject     string `json:"subject"`
	State       string `json:"state"`
	Role        string `json:"role"`
	Affiliation string `json:"affiliation"`
	// Error says why State is "error" (the join failed) or "left" (kicked, banned, ...).
	Error *Error `json:"error,omitempty"`
}

// Occupant is one participant of a room; the data of the "occupant" event.
type Occupant struct {
	Room string `json:"room"`
	Nick string `json:"nick"`
	// JID is the occupant's real JID, when the room reveals it.
	JID         string `json:"jid,omitempty"`
	Role        string `json:"role"`
	Affiliation string `json:"affiliation"`
	Show        string `json:"show"`
	Status      string `json:"status"`
	// Left is true when the occupant left the room; NewNick is set when it left only to come
	// back under that nickname.
	Left    bool   `json:"left,omitempty"`
	NewNick string `json:"newNick,omitempty"`
	// OccupantID is the room's stable id for the occupant (XEP-0421), when it gives one.
	OccupantID string `json:"occupantId,omitempty"`
}

// Occupants is the data of the "occupants" event: a room's occupants, chunked like Roster.
type Occupants struct {
	Room  string     `json:"room"`
	Items []Occupant `json:"items"`
	Full  bool       `json:"full"`
	More  bool       `json:"more,omitempty"`
}

// Invite is the data of the "invite" event: an invitation to a room, mediated by the room
// (XEP-0045) or direct (XEP-0249).
type Invite struct {
	Room     string `json:"room"`
	From     string `json:"from"`
	Reason   string `json:"reason"`
	Password string `json:"password,omitempty"`
	Direct   bool   `json:"direct"`
}

// Bookmark is a saved room (XEP-0402).
type Bookmark struct {
	JID      string `json:"jid"`
	Name     string `json:"name"`
	Nick     string `json:"nick"`
	Autojoin bool   `json:"autojoin"`
	Password string `json:"password,omitempty"`
}

// Bookmarks is the data of the "bookmarks" event and the result of bookmarks.list.
type Bookmarks struct {
	Items []Bookmark `json:"items"`
}

// Form is a data form (XEP-0004) as tabs see it: MUC room configuration, ad-hoc command
// stages, search and registration forms. Type is form, submit, cancel or result.
type Form struct {
	Type         string      `json:"type"`
	Title        string      `json:"title,omitempty"`
	Instructions string      `json:"instructions,omitempty"`
	Fields       []FormField `json:"fields"`
}

// FormField is one field of a Form. Type is a XEP-0004 field type (text-single, list-single,
// boolean, jid-single, hidden, fixed, ...); Values are its current or default values.
type FormField struct {
	Var      string       `json:"var,omitempty"`
	Type     string       `json:"type"`
	Label    string       `json:"label,omitempty"`
	Required bool         `json:"required,omitempty"`
	Values   []string     `json:"values"`
	Options  []FormOption `json:"options,omitempty"`
	Desc     string       `json:"desc,omitempty"`
}

// FormOption is one choice of a list field.
type FormOption struct {
	Label string `json:"label,omitempty"`
	Value string `json:"value"`
}

// Profile is a user's vCard as tabs see it (XEP-0292 vCard4 or XEP-0054 vcard-temp, whichever
// the server offers); "" means absent. Birthday is as the card has it, normally YYYY-MM-DD.
type Profile struct {
	JID      string `json:"jid"`
	FN       string `json:"fn"`
	Nickname string `json:"nickname"`
	Email    string `json:"email"`
	Tel      string `json:"tel"`
	URL      string `json:"url"`
	Note     string `json:"note"`
	Org      string `json:"org"`
	Title    string `json:"title"`
	Birthday string `json:"birthday"`
}

// Avatar is the data of the "avatar" event: the hash (SHA-1, hex) of a user's current avatar,
// "" when the user has none.
type Avatar struct {
	JID  string `json:"jid"`
	Hash string `json:"hash"`
}

// AvatarData is the result of avatar.get: the image itself, base64, and its type.
type AvatarData struct {
	JID  string `json:"jid,omitempty"`
	Hash string `json:"hash"`
	Type string `json:"type"`
	Data string `json:"data"`
}

// Blocklist is the data of the "blocklist" event and the result of block.list.
type Blocklist struct {
	Items []string `json:"items"`
}

// DiscoInfo is the result of disco.info (XEP-0030): what an entity is and supports.
type DiscoInfo struct {
	Identities []DiscoIdentity `json:"identities"`
	Features   []string        `json:"features"`
	Forms      []Form          `json:"forms"`
}

// DiscoIdentity is one identity of a DiscoInfo.
type DiscoIdentity struct {
	Category string `json:"category"`
	Type     string `json:"type"`
	Name     string `json:"name,omitempty"`
	Lang     string `json:"lang,omitempty"`
}

// DiscoItems is the result of disco.items.
type DiscoItems struct {
	Items []DiscoItem `json:"items"`
}

// DiscoItem is one item of DiscoItems.
type DiscoItem struct {
	JID  string `json:"jid"`
	Node string `json:"node,omitempty"`
	Name string `json:"name,omitempty"`
}

// UploadSlot is the result of upload.slot (XEP-0363): PUT the file to Put with Headers, then
// share Get. MaxSize is the service's limit in bytes, 0 if it has none.
type UploadSlot struct {
	Put     string            `json:"put"`
	Get     string            `json:"get"`
	Headers map[string]string `json:"headers"`
	MaxSize int64             `json:"maxSize"`
}
