// Package engine is SparkWeb's XMPP client: one session shared by every attached tab.
//
// Tabs send protocol.Requests and receive Responses and Events through an Emit function, so the
// engine knows nothing of SharedWorkers, MessagePorts or JavaScript: it builds and is tested
// natively against a real server, and the js/wasm host in wasm/cmd/engine is a thin shell.
package engine

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"mellium.im/xmpp"

	"github.com/sparkweb/sparkweb/wasm/dataform"
	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/sm"
	"github.com/sparkweb/sparkweb/wasm/storage"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// Config sets up an Engine.
type Config struct {
	// RelayURL is the relay's base URL (http or https); the token endpoint and the WebSocket
	// bridge are found under it.
	RelayURL string
	// Emit delivers one JSON message to a tab, or to every attached tab when tab is "".
	// It is called in order and must not block or call back into the engine.
	Emit func(tab string, msg []byte)
	// Store keeps the outbox, roster, recent messages and login keys; nil keeps them in memory.
	Store storage.Store
	// HTTPClient fetches relay tokens; nil means http.DefaultClient. Natively it needs a cookie
	// jar for silent re-login with the relay's refresh cookie.
	HTTPClient *http.Client
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// KeepaliveInterval is how long the stream may stay silent before the engine pings the
	// server (XEP-0199); zero means 60 s, negative turns the keepalive off.
	KeepaliveInterval time.Duration
	// KeepaliveTimeout is how long a keepalive ping may go unanswered before the connection is
	// taken for dead and the engine reconnects; zero means 30 s.
	KeepaliveTimeout time.Duration
	// AckInterval is how often stream management asks the server for an ack on a quiet stream
	// (sm.Options.AckInterval); zero means 30 s. While the user is inactive (CSI) it asks only
	// when something is unacknowledged, and the keepalive waits 5 times KeepaliveInterval.
	AckInterval time.Duration
}

// Engine holds the one XMPP session and all client state.
type Engine struct {
	cfg Config
	log *slog.Logger

	// mu guards the state and orders emission: every state change and its event happen under
	// it, and so does the snapshot, so a tab that attaches sees each change exactly once.
	mu       sync.Mutex
	st       state
	conn     *xmppws.Conn
	sess     *xmpp.Session
	done     chan struct{} // closed when the current session stops being served
	gen      int           // bumps with every login and logout so a stale session is ignored
	retrying bool          // a reconnect loop runs: a drop must not start a second one
	// catchUpPending is set from a fresh login until the archive catch-up has completed.
	catchUpPending bool
	acct           *account     // signed-in account, nil when signed out
	presence       presenceArgs // our own presence, as last set
	// queries holds the archive queries in flight, by queryid.
	queries map[string]*archiveQuery

	store      storage.Store
	persist    *persister
	kick       chan struct{} // retry a reconnect now
	outboxKick chan struct{} // something new in the outbox
	outboxSeq  int
	// outboxSent holds the ids sent on the current stream; pendingAcks the sent messages the
	// server has not confirmed yet.
	outboxSent  map[string]bool
	pendingAcks map[string]outboxEntry
	sm          *sm.State // stream management of the current stream, kept across resumptions
	// svc holds discovery, caps, keepalive, CSI and upload state (disco.go).
	svc services
	// prof holds profile, avatar and blocking state outside client state (profile.go).
	prof profileState
	// cmdForms holds the current stage form of ad-hoc command sessions (commands.go).
	cmdForms map[string]*dataform.Form
}

// New returns an offline engine.
func New(cfg Config) *Engine {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Emit == nil {
		cfg.Emit = func(string, []byte) {}
	}
	if cfg.Store == nil {
		cfg.Store = storage.NewMemory()
	}
	return &Engine{
		cfg: cfg, log: cfg.Logger, st: newState(), queries: map[string]*archiveQuery{},
		store: cfg.Store, persist: newPersister(cfg.Store, cfg.Logger.Error),
		kick: make(chan struct{}, 1), outboxKick: make(chan struct{}, 1),
		outboxSent: map[string]bool{}, pendingAcks: map[string]outboxEntry{},
	}
}

// Request handles one raw JSON request from tab without blocking the caller: the response is
// emitted to that tab when ready. This is the entry point for JavaScript hosts, whose callbacks
// must never block.
func (e *Engine) Request(tab string, raw []byte) {
	var req protocol.Request
	if err := json.Unmarshal(raw, &req); err != nil || req.Op == "" {
		e.reply(tab, protocol.Response{ID: req.ID, Error: protocol.Errorf(protocol.CodeBadRequest, "malformed request")})
		return
	}
	if req.Op == "tab.attach" {
		// Answered synchronously under the state lock: see Engine.mu.
		e.mu.Lock()
		defer e.mu.Unlock()
		e.reply(tab, protocol.Response{ID: req.ID, OK: true, Result: e.st.snapshot()})
		return
	}
	go func() {
		resp := e.Do(context.Background(), req)
		e.reply(tab, resp)
	}()
}

// Do runs one request and returns its response.
func (e *Engine) Do(ctx context.Context, req protocol.Request) protocol.Response {
	h, ok := e.ops()[req.Op]
	if !ok {
		return protocol.Response{ID: req.ID, Error: protocol.Errorf(protocol.CodeNotImplemented, "unknown op %q", req.Op)}
	}
	result, err := h(ctx, req.Args)
	if err != nil {
		return protocol.Response{ID: req.ID, Error: protocol.AsError(err)}
	}
	return protocol.Response{ID: req.ID, OK: true, Result: result}
}

type opFunc func(ctx context.Context, args json.RawMessage) (any, error)

func (e *Engine) ops() map[string]opFunc {
	return map[string]opFunc{
		"tab.attach":        func(context.Context, json.RawMessage) (any, error) { return e.Snapshot(), nil },
		"tab.detach":        func(context.Context, json.RawMessage) (any, error) { return nil, nil },
		"session.login":     e.opLogin,
		"session.logout":    e.opLogout,
		"roster.list":       e.opRosterList,
		"presence.set":      e.opPresenceSet,
		"chat.send":         e.opChatSend,
		"chat.history":      e.opHistory,
		"session.reconnect": e.opReconnect,
		"session.handover":  e.opHandover,
		"push.register":     e.opPushRegister,   // push.go
		"push.unregister":   e.opPushUnregister, // push.go
		// Contacts (contacts.go).
		"roster.add":         e.opRosterAdd,
		"roster.update":      e.opRosterUpdate,
		"roster.remove":      e.opRosterRemove,
		"presence.subscribe": e.opSubscription("presence.subscribe"),
		"presence.approve":   e.opSubscription("presence.approve"),
		"presence.deny":      e.opSubscription("presence.deny"),
		"presence.cancel":    e.opSubscription("presence.cancel"),
		// Message extensions (messages.go).
		"chat.correct":   e.opCorrect,
		"chat.retract":   e.opRetract,
		"chat.react":     e.opReact,
		"chat.displayed": e.opDisplayed,
		"chat.state":     e.opChatState,
		// Discovery and session (disco.go, caps.go, csi.go, upload.go).
		"disco.info":     e.opDiscoInfo,
		"disco.items":    e.opDiscoItems,
		"disco.features": e.opDiscoFeatures,
		"session.active": e.opSessionActive,
		"upload.slot":    e.opUploadSlot,
		// Group chat (muc.go) and bookmarks (bookmarks.go).
		"muc.rooms":        e.opMUCRooms,
		"muc.join":         e.opMUCJoin,
		"muc.leave":        e.opMUCLeave,
		"muc.nick":         e.opMUCNick,
		"muc.subject":      e.opMUCSubject,
		"muc.invite":       e.opMUCInvite,
		"muc.role":         e.opMUCRole,
		"muc.affiliation":  e.opMUCAffiliation,
		"muc.occupants":    e.opMUCOccupants,
		"muc.moderate":     e.opMUCModerate, // mucmsg.go
		"muc.create":       e.opMUCCreate,
		"muc.config.get":   e.opMUCConfigGet,
		"muc.config.set":   e.opMUCConfigSet,
		"bookmarks.list":   e.opBookmarksList,
		"bookmarks.set":    e.opBookmarksSet,
		"bookmarks.remove": e.opBookmarksRemove,
		// Services (commands.go, search.go, account.go).
		"commands.list":        e.opCommandsList,
		"commands.execute":     e.opCommandsExecute,
		"search.form":          e.opSearchForm,
		"search.query":         e.opSearchQuery,
		"account.registerForm": e.opRegisterForm,
		"account.register":     e.opRegister,
		"account.password":     e.opPassword,
		"account.delete":       e.opDelete,
		// Profile, avatars, blocking (profile.go, avatar.go, blocking.go).
		"profile.get":  e.opProfileGet,
		"profile.set":  e.opProfileSet,
		"avatar.get":   e.opAvatarGet,
		"avatar.set":   e.opAvatarSet,
		"block.list":   e.opBlockList,
		"block.add":    e.opBlockAdd,
		"block.remove": e.opBlockRemove,
	}
}

// Snapshot returns the whole client state, as sent to a tab on attach.
func (e *Engine) Snapshot() protocol.Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st.snapshot()
}

func (e *Engine) reply(tab string, resp protocol.Response) {
	if !resp.OK && resp.Error == nil {
		resp.Error = protocol.Errorf(protocol.CodeInternal, "no result")
	}
	if len(resp.ID) == 0 {
		resp.ID = json.RawMessage("null")
	}
	e.send(tab, resp)
}

// emitLocked broadcasts an event; e.mu must be held.
func (e *Engine) emitLocked(name string, data any) {
	e.send("", protocol.Event{Event: name, Data: data})
}

func (e *Engine) send(tab string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		e.log.Error("encode message for tab", "err", err)
		return
	}
	e.cfg.Emit(tab, b)
}
