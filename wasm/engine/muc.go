package engine

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"sort"
	"time"
	"unicode/utf8"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/mam"
	"github.com/sparkweb/sparkweb/wasm/muc"
	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/storage"
)

// Group chat (XEP-0045). A room lives in e.st.rooms from the join until a leave; its occupants
// are collected silently while joining and sent to the tabs as one chunked "occupants" list
// once our own presence closes the initial list, then changed one "occupant" at a time.
// Messages go into conversations[room] like chats; their history is the room's own archive
// (MUC MAM), which a join fetches instead of the room's short history when the room has one.

const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	// occupantChunk is the most occupants one "occupants" event carries (as rosterChunk).
	occupantChunk = 500
	// joinTimeout bounds a join or nick change: a room that never answers is an error.
	joinTimeout = 20 * time.Second
	// roomHistoryPage is how much of a room's archive a join fetches at most per page.
	roomHistoryPage = 50
	keyRooms        = "muc/rooms"
)

// room is the engine's view of one room; guarded by Engine.mu.
type room struct {
	protocol.Room
	password  string
	occupants map[string]protocol.Occupant // by nick
	mam       bool                         // the room archives its messages (MUC MAM)
	created   bool                         // our join created it (status 201)
	wait      chan error                   // a join, nick change or leave waits for the room
	waitMsg   map[string]chan error        // messages sent by ops, by id, waiting for an error
	// What the room offers for message extensions (mucmsg.go): occupant ids (XEP-0421), which
	// can then be trusted, and the namespace of its message moderation (XEP-0425), or "".
	occupantIDs bool
	moderation  string
}

// storedRoom is what is kept to join a room again after a reload.
type storedRoom struct {
	JID      string `json:"jid"`
	Nick     string `json:"nick"`
	Password string `json:"password,omitempty"`
}

// finishLocked ends the op waiting on r, if any.
func (r *room) finishLocked(err error) {
	if r.wait != nil {
		r.wait <- err
		r.wait = nil
	}
}

func (r *room) occupantList() []protocol.Occupant {
	list := make([]protocol.Occupant, 0, len(r.occupants))
	for _, o := range r.occupants {
		list = append(list, o)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Nick < list[j].Nick })
	return list
}

func (s *state) roomList() []protocol.Room {
	list := make([]protocol.Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		list = append(list, r.Room)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].JID < list[j].JID })
	return list
}

func (s *state) occupantMap() map[string][]protocol.Occupant {
	m := make(map[string][]protocol.Occupant, len(s.rooms))
	for k, r := range s.rooms {
		m[k] = r.occupantList()
	}
	return m
}

// roomArg parses a room's bare JID from a tab.
func roomArg(s string) (jid.JID, error) {
	j, err := jid.Parse(s)
	if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
		return jid.JID{}, protocol.Errorf(protocol.CodeBadRequest, "invalid room JID %q: use room@service", s)
	}
	return j, nil
}

// nickArg checks a nickname from a tab and returns the room occupant JID it makes.
func nickArg(room jid.JID, nick string) (jid.JID, error) {
	if nick == "" || len(nick) > muc.MaxNick || !utf8.ValidString(nick) {
		return jid.JID{}, protocol.Errorf(protocol.CodeBadRequest, "a nickname is 1 to %d bytes of UTF-8", muc.MaxNick)
	}
	full, err := room.WithResource(nick)
	if err != nil {
		return jid.JID{}, protocol.Errorf(protocol.CodeBadRequest, "invalid nickname %q: %v", nick, err)
	}
	return full, nil
}

// textArg checks a free text (reason, subject) from a tab.
func textArg(what, s string, max int) error {
	if len(s) > max || !utf8.ValidString(s) {
		return protocol.Errorf(protocol.CodeBadRequest, "%s must be valid UTF-8 of at most %d bytes", what, max)
	}
	return nil
}

type discoInfo struct {
	Identities []struct {
		Category string `xml:"category,attr"`
		Type     string `xml:"type,attr"`
		Name     string `xml:"name,attr"`
	} `xml:"identity"`
	Features []struct {
		Var string `xml:"var,attr"`
	} `xml:"feature"`
}

func (d discoInfo) has(feature string) bool {
	for _, f := range d.Features {
		if f.Var == feature {
			return true
		}
	}
	return false
}

type discoItems struct {
	Items []struct {
		JID  string `xml:"jid,attr"`
		Node string `xml:"node,attr"`
		Name string `xml:"name,attr"`
	} `xml:"item"`
}

func discoQuery(ns, node string) xml.TokenReader {
	start := xml.StartElement{Name: xml.Name{Space: ns, Local: "query"}}
	if node != "" {
		start.Attr = []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}
	}
	return xmlstream.Wrap(nil, start)
}

// roomInfo asks a room what it is; ok is false when it does not exist yet (a join creates it).
func (e *Engine) roomInfo(ctx context.Context, r jid.JID) (info discoInfo, ok bool, err error) {
	err = e.sendIQ(ctx, "room info", stanza.GetIQ, r, discoQuery(nsDiscoInfo, ""), &info)
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.Code == string(stanza.ItemNotFound) {
		return info, false, nil
	}
	return info, err == nil, err
}

func (e *Engine) opMUCRooms(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Service string `json:"service"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	sess, err := e.online()
	if err != nil {
		return nil, err
	}
	service := args.Service
	if service == "" {
		if service, err = e.findMUCService(ctx, sess.LocalAddr().Domain()); err != nil {
			return nil, err
		}
	}
	svc, err := jid.Parse(service)
	if err != nil || svc.Localpart() != "" || svc.Resourcepart() != "" {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "invalid service %q: use a domain such as conference.example.org", service)
	}
	var items discoItems
	if err := e.sendIQ(ctx, "list rooms", stanza.GetIQ, svc, discoQuery(nsDiscoItems, ""), &items); err != nil {
		return nil, err
	}
	type roomItem struct {
		JID  string `json:"jid"`
		Name string `json:"name"`
	}
	rooms := []roomItem{}
	for _, it := range items.Items {
		if j, err := jid.Parse(it.JID); err == nil && j.Localpart() != "" {
			rooms = append(rooms, roomItem{JID: j.Bare().String(), Name: clip(it.Name, muc.MaxName)})
		}
	}
	return map[string]any{"service": svc.String(), "rooms": rooms}, nil
}

// findMUCService finds the server's group chat service: the first item of the domain's
// disco#items whose identity is conference/text.
func (e *Engine) findMUCService(ctx context.Context, domain jid.JID) (string, error) {
	var items discoItems
	if err := e.sendIQ(ctx, "list services", stanza.GetIQ, domain, discoQuery(nsDiscoItems, ""), &items); err != nil {
		return "", err
	}
	for _, it := range items.Items {
		j, err := jid.Parse(it.JID)
		if err != nil || it.Node != "" {
			continue
		}
		var info discoInfo
		if err := e.sendIQ(ctx, "service info", stanza.GetIQ, j, discoQuery(nsDiscoInfo, ""), &info); err != nil {
			continue
		}
		for _, id := range info.Identities {
			if id.Category == "conference" && id.Type == "text" && info.has(muc.NS) {
				return j.String(), nil
			}
		}
	}
	return "", protocol.Errorf(string(stanza.ItemNotFound), "the server has no group chat service")
}

type joinArgs struct {
	Room       string `json:"room"`
	Nick       string `json:"nick"`
	Password   string `json:"password"`
	MaxHistory *int   `json:"maxHistory"`
}

func (e *Engine) opMUCJoin(ctx context.Context, raw json.RawMessage) (any, error) {
	var args joinArgs
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	return e.join(ctx, args, false)
}

// join enters a room (or, with create, makes a new one) and answers once the room has sent
// our own presence, i.e. the whole occupant list.
func (e *Engine) join(ctx context.Context, args joinArgs, create bool) (protocol.Room, error) {
	rj, err := roomArg(args.Room)
	if err != nil {
		return protocol.Room{}, err
	}
	full, err := nickArg(rj, args.Nick)
	if err != nil {
		return protocol.Room{}, err
	}
	if err := textArg("password", args.Password, muc.MaxReason); err != nil {
		return protocol.Room{}, err
	}
	if args.MaxHistory != nil && *args.MaxHistory < 0 {
		return protocol.Room{}, protocol.Errorf(protocol.CodeBadRequest, "maxHistory must not be negative")
	}
	sess, err := e.online()
	if err != nil {
		return protocol.Room{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	// Whether the room archives decides where its history comes from.
	info, exists, err := e.roomInfo(ctx, rj)
	if err != nil {
		return protocol.Room{}, err
	}
	if create && exists {
		return protocol.Room{}, protocol.Errorf(protocol.CodeConflict, "room %s already exists", rj)
	}
	key := rj.String()
	e.mu.Lock()
	r := e.st.rooms[key]
	if r != nil && r.wait != nil {
		e.mu.Unlock()
		return protocol.Room{}, protocol.Errorf(protocol.CodeConflict, "room %s: another join, nick change or leave is under way", key)
	}
	if r != nil && r.State == protocol.RoomJoined && r.Nick == args.Nick && !create {
		defer e.mu.Unlock()
		return r.Room, nil // already in
	}
	if r == nil {
		r = &room{}
		e.st.rooms[key] = r
	}
	name := r.Name
	for _, id := range info.Identities {
		if id.Category == "conference" && id.Name != "" {
			name = clip(id.Name, muc.MaxName)
		}
	}
	r.Room = protocol.Room{JID: key, Name: name, Nick: args.Nick, Subject: r.Subject, State: protocol.RoomJoining}
	r.password, r.mam, r.created = args.Password, info.has(mam.NS), false
	r.setFeatures(info) // mucmsg.go
	r.occupants = map[string]protocol.Occupant{}
	wait := make(chan error, 1)
	r.wait = wait
	hist := muc.History{MaxStanzas: -1}
	switch {
	case args.MaxHistory != nil:
		hist.MaxStanzas = *args.MaxHistory
	case r.mam:
		hist.MaxStanzas = 0 // the archive has it, with ids to page back from
	default:
		// Only what we have not seen yet: a rejoin must not repeat messages.
		if conv := e.st.conversations[key]; len(conv) > 0 {
			if t, err := time.Parse(time.RFC3339, conv[len(conv)-1].Timestamp); err == nil {
				hist.Since = t.Add(time.Millisecond).UTC().Format(time.RFC3339Nano)
			}
		}
	}
	e.emitLocked("room", r.Room)
	own := e.presence
	e.mu.Unlock()

	p := stanza.Presence{XMLName: xml.Name{Space: stanza.NSClient, Local: "presence"}, To: full}
	payload := []xml.TokenReader{muc.Join(args.Password, hist)}
	if own.Show != "" && own.Show != "available" {
		payload = append(payload, textElement("show", own.Show))
	}
	if own.Status != "" {
		payload = append(payload, textElement("status", own.Status))
	}
	if err := sess.Send(ctx, p.Wrap(xmlstream.MultiReader(payload...))); err != nil {
		e.failJoin(key, wait, protocol.Errorf(protocol.CodeNotConnected, "join %s: %v", key, err))
		return protocol.Room{}, protocol.Errorf(protocol.CodeNotConnected, "join %s: %v", key, err)
	}
	select {
	case err = <-wait:
	case <-ctx.Done():
		err = protocol.Errorf(string(stanza.RemoteServerTimeout), "join %s: the room did not answer", key)
		e.failJoin(key, wait, err)
	}
	if err != nil {
		return protocol.Room{}, err
	}

	e.mu.Lock()
	created := r.created
	e.mu.Unlock()
	switch {
	case create && !created:
		// Someone made it between our check and our join: it is theirs, not ours to configure.
		_ = e.leave(ctx, rj)
		return protocol.Room{}, protocol.Errorf(protocol.CodeConflict, "room %s already exists", rj)
	case created && !create:
		// A join that made a new room accepts the default configuration (an "instant room"),
		// or the room stays locked to everyone else.
		if err := e.sendIQ(ctx, "unlock new room", stanza.SetIQ, rj, ownerQuery(emptyForm("submit")), nil); err != nil {
			return protocol.Room{}, err
		}
	}
	if !exists {
		e.learnRoomFeatures(ctx, rj, r) // a new room had none to tell before (mucmsg.go)
	}
	e.mu.Lock()
	e.persistRoomsLocked()
	out := r.Room
	fetch := r.mam && args.MaxHistory == nil
	e.mu.Unlock()
	if fetch {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
			defer cancel()
			if err := e.roomCatchUp(ctx, sess, key); err != nil {
				e.log.Warn("room history", "room", key, "err", err)
			}
		}()
	}
	return out, nil
}

// failJoin marks a join that got no answer (or could not be sent) failed.
func (e *Engine) failJoin(key string, wait chan error, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.st.rooms[key]
	if r == nil || r.wait != wait {
		return
	}
	r.wait = nil
	r.State, r.Error = protocol.RoomError, protocol.AsError(err)
	e.emitLocked("room", r.Room)
}

func ownerQuery(payload xml.TokenReader) xml.TokenReader {
	return xmlstream.Wrap(payload, xml.StartElement{Name: xml.Name{Space: muc.NSOwner, Local: "query"}})
}

func emptyForm(typ string) xml.TokenReader {
	return xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "jabber:x:data", Local: "x"}, Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: typ}}})
}

// onRoomPresence takes a presence from a room we are in or joining; it reports whether it was
// one (otherwise it is a contact's presence).
func (e *Engine) onRoomPresence(p incomingPresence) bool {
	key := p.From.Bare().String()
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.st.rooms[key]
	if r == nil {
		// Occupant presence of a room we are not in (any more) is not a contact's presence.
		return p.MUC != nil
	}
	nick := p.From.Resourcepart()
	switch p.Type {
	case stanza.ErrorPresence:
		perr := protocol.AsError(stanzaError(p.Err, "room "+key))
		if r.State == protocol.RoomJoining {
			r.State, r.Error = protocol.RoomError, perr
			e.emitLocked("room", r.Room)
		} else if r.wait == nil {
			e.emitLocked("error", perr)
		}
		r.finishLocked(perr)
		return true
	case "", stanza.UnavailablePresence:
	default:
		return true
	}
	if nick == "" {
		return true // presence of the room itself: nothing to show
	}
	x := p.MUC
	it := x.Item()
	self := x.Has(muc.StatusSelf)
	occ := protocol.Occupant{
		Room: key, Nick: clip(nick, muc.MaxNick), JID: clip(it.JID, 3*1024), Role: clip(it.Role, 32),
		Affiliation: clip(it.Affiliation, 32), Show: showOf(p.Show), Status: clip(p.Status, maxStatus),
	}
	if r.occupantIDs && p.OccupantID != nil && len(p.OccupantID.ID) <= maxOccupantID {
		occ.OccupantID = p.OccupantID.ID // mucmsg.go
	}
	if occ.JID != "" {
		if j, err := jid.Parse(occ.JID); err == nil {
			occ.JID = j.String()
		} else {
			occ.JID = ""
		}
	}
	listed := r.State == protocol.RoomJoined // the initial list went out: tell changes one by one
	if p.Type == stanza.UnavailablePresence {
		delete(r.occupants, nick)
		occ.Left, occ.Show = true, "unavailable"
		if x.Has(muc.StatusNickChanged) && it.Nick != "" {
			occ.NewNick = clip(it.Nick, muc.MaxNick)
		}
		if listed {
			e.emitLocked("occupant", occ)
		}
		if !self {
			return true
		}
		if occ.NewNick != "" {
			// Our own presence under the new nick follows; tabs learn the nick now, and the
			// room is kept (persisted) under it so a rejoin uses it.
			r.Nick = occ.NewNick
			e.emitLocked("room", r.Room)
			e.persistRoomsLocked()
			return true
		}
		code, text, why := muc.ExitReason(x)
		if r.State == protocol.RoomJoining && !why {
			// Our previous session's occupant leaving: a server that replaced that session (same
			// resource) tells the new one. Our join is answered separately.
			return true
		}
		// We are out: left, kicked, banned, or the room went away.
		r.State, r.Role, r.Error = protocol.RoomLeft, "none", nil
		if why {
			r.Error = protocol.Errorf(code, "%s", text)
		}
		r.occupants = map[string]protocol.Occupant{}
		e.emitLocked("room", r.Room)
		e.persistRoomsLocked()
		r.finishLocked(nil)
		return true
	}
	r.occupants[nick] = occ
	if !self {
		if listed {
			e.emitLocked("occupant", occ)
		}
		return true
	}
	changed := r.Role != occ.Role || r.Affiliation != occ.Affiliation || r.Nick != nick
	r.Role, r.Affiliation, r.Nick = occ.Role, occ.Affiliation, nick
	if x.Has(muc.StatusCreated) {
		r.created = true
	}
	if r.State == protocol.RoomJoining {
		r.State, r.Error = protocol.RoomJoined, nil
		e.emitOccupantsLocked(key, r.occupantList())
		e.emitLocked("room", r.Room)
		e.kickOutbox() // messages typed for the room while joining
	} else {
		e.emitLocked("occupant", occ)
		if changed {
			e.emitLocked("room", r.Room)
		}
	}
	r.finishLocked(nil)
	return true
}

// emitOccupantsLocked sends a room's whole occupant list in chunks (see Occupants).
func (e *Engine) emitOccupantsLocked(key string, items []protocol.Occupant) {
	for start := 0; ; start += occupantChunk {
		end := min(start+occupantChunk, len(items))
		e.emitLocked("occupants", protocol.Occupants{Room: key, Items: items[start:end], Full: start == 0, More: end < len(items)})
		if end == len(items) {
			return
		}
	}
}

// onGroupChatLocked files a room message, applies a subject change, or collects an archived
// room message for q. e.mu must be held.
func (e *Engine) onGroupChatLocked(in inbound, q *archiveQuery) {
	key := in.from.Bare().String()
	r := e.st.rooms[key]
	if r == nil && (q == nil || q.from != key) {
		return // not a room of ours
	}
	nick := clip(in.from.Resourcepart(), muc.MaxNick)
	if in.Subject != nil && in.Body == nil {
		if r != nil && q == nil && in.src == fromLive {
			if s := clip(*in.Subject, muc.MaxSubject); s != r.Subject {
				r.Subject = s
				e.emitLocked("room", r.Room)
			}
		}
		return
	}
	ourNick := ""
	if r != nil {
		ourNick = r.Nick
	}
	if in.src == fromLive {
		in.archiveID = in.StanzaID(key) // the room's archive id, not our account's
	}
	e.roomInboundLocked(&in, r, key, nick)
	if e.roomExtrasLocked(in, q, ourNick) || in.Body == nil { // chat states, edits (mucmsg.go)
		return
	}
	msg := in.message()
	msg.Type, msg.Nick, msg.With, msg.State, msg.OccupantID = "groupchat", nick, key, "", in.occupantID
	e.roomReplyInLocked(&msg)
	msg.Outgoing = nick != "" && nick == ourNick
	if msg.Outgoing {
		msg.State = protocol.MessageSent
	} else if ourNick != "" {
		me := e.sess.LocalAddr().Bare().String()
		msg.Mentioned = muc.Mentions(msg.Body, ourNick) || muc.MentionsURI(in.References, "xmpp:"+key+"/"+ourNick, "xmpp:"+me)
	}
	if q != nil {
		q.messages = append(q.messages, msg)
		return
	}
	e.fileRoomMessageLocked(msg)
}

// fileRoomMessageLocked files a room message; the room's copy of one of ours (the echo, or the
// archive's) confirms it: it moves to "sent" and learns its archive id.
func (e *Engine) fileRoomMessageLocked(msg protocol.Message) {
	conv := e.st.conversations[msg.With]
	for i := len(conv) - 1; i >= 0; i-- {
		c := &conv[i]
		if c.ID != msg.ID || !c.Outgoing {
			continue
		}
		changed := false
		if c.StanzaID == "" && msg.StanzaID != "" {
			c.StanzaID, changed = msg.StanzaID, true
			_, sid := identities(*c)
			e.st.seen.add(sid)
		}
		if advances(c.State, protocol.MessageSent) || c.State == protocol.MessageError {
			c.State, c.Error, changed = protocol.MessageSent, nil, true
		}
		if changed {
			e.emitLocked("message", *c)
			e.persistConversationLocked(msg.With)
		}
		return
	}
	e.fileLocked(msg, false) // never moves our account's archive position: this is the room's
}

// roomCatchUp files what the room's archive holds after the newest room message we have, or
// its latest page when we have none.
func (e *Engine) roomCatchUp(ctx context.Context, sess *xmpp.Session, key string) error {
	e.mu.Lock()
	after := ""
	conv := e.st.conversations[key]
	for i := len(conv) - 1; i >= 0 && after == ""; i-- {
		after = conv[i].StanzaID
	}
	e.mu.Unlock()
	for page := 0; page < 10; page++ {
		q := mam.Query{To: key, After: after, Latest: after == "", Max: roomHistoryPage}
		msgs, fin, err := e.queryArchive(ctx, sess, q)
		var perr *protocol.Error
		if after != "" && errors.As(err, &perr) && perr.Code == string(stanza.ItemNotFound) {
			after = "" // our position expired from the archive
			continue
		}
		if err != nil {
			return err
		}
		e.mu.Lock()
		for _, m := range msgs {
			e.fileRoomMessageLocked(m)
		}
		e.mu.Unlock()
		if q.After == "" || fin.Complete || fin.Last == "" {
			return nil
		}
		after = fin.Last
	}
	return nil
}

// roomArchive returns the room whose archive chat.history pages for a conversation, or "" for a
// one-to-one chat: a room we are in, or one whose messages we hold.
func (e *Engine) roomArchive(with string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	conv := e.st.conversations[with]
	if _, ok := e.st.rooms[with]; ok || (len(conv) > 0 && conv[len(conv)-1].Type == "groupchat") {
		return with
	}
	return ""
}

// roomsPresence sends our new presence (show, status) to every room we are in: a room only
// learns it from presence addressed to it.
func (e *Engine) roomsPresence(ctx context.Context, sess *xmpp.Session, a presenceArgs) {
	e.mu.Lock()
	var to []jid.JID
	for k, r := range e.st.rooms {
		if r.State != protocol.RoomJoined {
			continue
		}
		if full, err := jid.MustParse(k).WithResource(r.Nick); err == nil {
			to = append(to, full)
		}
	}
	e.mu.Unlock()
	for _, full := range to {
		p := stanza.Presence{XMLName: xml.Name{Space: stanza.NSClient, Local: "presence"}, To: full}
		var payload []xml.TokenReader
		if a.Show != "" && a.Show != "available" {
			payload = append(payload, textElement("show", a.Show))
		}
		if a.Status != "" {
			payload = append(payload, textElement("status", a.Status))
		}
		if err := sess.Send(ctx, p.Wrap(xmlstream.MultiReader(payload...))); err != nil {
			e.log.Warn("presence to room", "room", full.Bare().String(), "err", err)
			return
		}
	}
}

// roomJoiningLocked reports whether we are (re)joining room: messages to it wait until joined.
func (e *Engine) roomJoiningLocked(key string) bool {
	r := e.st.rooms[key]
	return r != nil && r.State == protocol.RoomJoining
}

// roomNickLocked returns our nick in a room we joined or are joining.
func (e *Engine) roomNickLocked(key string) (string, bool) {
	r := e.st.rooms[key]
	if r == nil || (r.State != protocol.RoomJoined && r.State != protocol.RoomJoining) {
		return "", false
	}
	return r.Nick, true
}

func (e *Engine) opMUCLeave(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Room string `json:"room"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	rj, err := roomArg(args.Room)
	if err != nil {
		return nil, err
	}
	return nil, e.leave(ctx, rj)
}

// leave exits a room and forgets it (its messages stay in the conversation).
func (e *Engine) leave(ctx context.Context, rj jid.JID) error {
	key := rj.String()
	e.mu.Lock()
	r := e.st.rooms[key]
	if r == nil {
		e.mu.Unlock()
		return protocol.Errorf(string(stanza.ItemNotFound), "not in room %s", key)
	}
	sess := e.sess
	inRoom := r.State == protocol.RoomJoined || r.State == protocol.RoomJoining
	wait := make(chan error, 1)
	if inRoom && sess != nil {
		r.finishLocked(protocol.Errorf(protocol.CodeConflict, "left room %s", key))
		r.wait = wait
	}
	nick := r.Nick
	e.mu.Unlock()
	if inRoom && sess != nil {
		full, _ := rj.WithResource(nick)
		p := stanza.Presence{XMLName: xml.Name{Space: stanza.NSClient, Local: "presence"}, To: full, Type: stanza.UnavailablePresence}
		if err := sess.Send(ctx, p.Wrap(nil)); err == nil {
			select { // the room confirms with our unavailable presence; don't hang on one that doesn't
			case <-wait:
			case <-time.After(5 * time.Second):
			case <-ctx.Done():
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.st.rooms[key]; r != nil {
		r.wait = nil
		r.State, r.Role, r.Error = protocol.RoomLeft, "none", nil
		r.occupants = map[string]protocol.Occupant{}
		e.emitLocked("room", r.Room)
		delete(e.st.rooms, key)
		e.persistRoomsLocked()
	}
	return nil
}

func (e *Engine) opMUCNick(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Room string `json:"room"`
		Nick string `json:"nick"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	rj, err := roomArg(args.Room)
	if err != nil {
		return nil, err
	}
	full, err := nickArg(rj, args.Nick)
	if err != nil {
		return nil, err
	}
	sess, err := e.online()
	if err != nil {
		return nil, err
	}
	key := rj.String()
	e.mu.Lock()
	r := e.st.rooms[key]
	switch {
	case r == nil || r.State != protocol.RoomJoined:
		e.mu.Unlock()
		return nil, protocol.Errorf(string(stanza.ItemNotFound), "not in room %s", key)
	case r.wait != nil:
		e.mu.Unlock()
		return nil, protocol.Errorf(protocol.CodeConflict, "room %s: another join, nick change or leave is under way", key)
	case r.Nick == args.Nick:
		defer e.mu.Unlock()
		return r.Room, nil
	}
	wait := make(chan error, 1)
	r.wait = wait
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	p := stanza.Presence{XMLName: xml.Name{Space: stanza.NSClient, Local: "presence"}, To: full}
	if err = sess.Send(ctx, p.Wrap(nil)); err == nil {
		select {
		case err = <-wait:
		case <-ctx.Done():
			err = protocol.Errorf(string(stanza.RemoteServerTimeout), "nick change in %s: the room did not answer", key)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.wait == wait {
		r.wait = nil
	}
	if err != nil {
		return nil, protocol.AsError(err)
	}
	e.persistRoomsLocked()
	return r.Room, nil
}

// sendToRoom sends a message to a room we are in and waits until the room has handled it: a
// disco#info query sent after it is answered after any error the message caused, as a room
// handles one sender's stanzas in order. The room's error comes back as the op's.
func (e *Engine) sendToRoom(ctx context.Context, to jid.JID, what string, typ stanza.MessageType, payload xml.TokenReader) error {
	sess, err := e.online()
	if err != nil {
		return err
	}
	key := to.Bare().String()
	id := randomID()
	errc := make(chan error, 1)
	e.mu.Lock()
	r := e.st.rooms[key]
	if r == nil || r.State != protocol.RoomJoined {
		e.mu.Unlock()
		return protocol.Errorf(string(stanza.ItemNotFound), "not in room %s", key)
	}
	if r.waitMsg == nil {
		r.waitMsg = map[string]chan error{}
	}
	r.waitMsg[id] = errc
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(r.waitMsg, id)
		e.mu.Unlock()
	}()
	m := stanza.Message{XMLName: xml.Name{Space: stanza.NSClient, Local: "message"}, ID: id, To: to, Type: typ}
	if err := sess.Send(ctx, m.Wrap(payload)); err != nil {
		return protocol.Errorf(protocol.CodeNotConnected, "%s: %v", what, err)
	}
	var info discoInfo
	if err := e.sendIQ(ctx, what, stanza.GetIQ, to.Bare(), discoQuery(nsDiscoInfo, ""), &info); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// onRoomMessageErrorLocked gives an error reply to the op that sent the message; it reports
// whether one was waiting.
func (e *Engine) onRoomMessageErrorLocked(from jid.JID, id string, se *stanza.Error, what string) bool {
	r := e.st.rooms[from.Bare().String()]
	if r == nil || id == "" {
		return false
	}
	c, ok := r.waitMsg[id]
	if !ok {
		return false
	}
	delete(r.waitMsg, id)
	c <- stanzaError(se, what)
	return true
}

func (e *Engine) opMUCSubject(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Room    string `json:"room"`
		Subject string `json:"subject"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	rj, err := roomArg(args.Room)
	if err != nil {
		return nil, err
	}
	if err := textArg("subject", args.Subject, muc.MaxSubject); err != nil {
		return nil, err
	}
	return nil, e.sendToRoom(ctx, rj, "change subject of "+rj.String(), stanza.GroupChatMessage, textElement("subject", args.Subject))
}

func (e *Engine) opMUCInvite(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Room   string `json:"room"`
		JID    string `json:"jid"`
		Reason string `json:"reason"`
		Direct bool   `json:"direct"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	rj, err := roomArg(args.Room)
	if err != nil {
		return nil, err
	}
	who, err := jidArg(args.JID)
	if err != nil {
		return nil, err
	}
	if err := textArg("reason", args.Reason, muc.MaxReason); err != nil {
		return nil, err
	}
	if !args.Direct {
		return nil, e.sendToRoom(ctx, rj, "invite to "+rj.String(), stanza.NormalMessage, muc.MediatedInvite(who.Bare().String(), args.Reason))
	}
	// XEP-0249: straight to the invitee, with the password if the room has one.
	sess, err := e.online()
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	pw := ""
	if r := e.st.rooms[rj.String()]; r != nil {
		pw = r.password
	}
	e.mu.Unlock()
	m := stanza.Message{XMLName: xml.Name{Space: stanza.NSClient, Local: "message"}, ID: randomID(), To: who.Bare(), Type: stanza.NormalMessage}
	if err := sess.Send(ctx, m.Wrap(muc.DirectInvitation(rj.String(), pw, args.Reason))); err != nil {
		return nil, protocol.Errorf(protocol.CodeNotConnected, "invite: %v", err)
	}
	return nil, nil
}

// onInviteLocked reports an invitation in a message, mediated by a room or direct; it reports
// whether the message was one.
func (e *Engine) onInviteLocked(m incomingMessage) bool {
	switch {
	case m.MUCUser != nil && m.MUCUser.Invite != nil:
		from := ""
		if j, err := jid.Parse(m.MUCUser.Invite.From); err == nil {
			from = j.String()
		}
		e.emitLocked("invite", protocol.Invite{
			Room: m.From.Bare().String(), From: from, Reason: clip(m.MUCUser.Invite.Reason, muc.MaxReason),
			Password: clip(m.MUCUser.Password, muc.MaxReason),
		})
		return true
	case m.Conference != nil:
		rj, err := jid.Parse(m.Conference.JID)
		if err != nil || rj.Localpart() == "" {
			e.emitLocked("error", protocol.Errorf(protocol.CodeBadRequest, "malformed invitation from %s ignored", m.From))
			return true
		}
		e.emitLocked("invite", protocol.Invite{
			Room: rj.Bare().String(), From: m.From.String(), Reason: clip(m.Conference.Reason, muc.MaxReason),
			Password: clip(m.Conference.Password, muc.MaxReason), Direct: true,
		})
		return true
	case m.MUCUser != nil && m.MUCUser.Decline != nil:
		e.emitLocked("error", protocol.Errorf("declined", "%s declined the invitation to %s: %s",
			m.MUCUser.Decline.From, m.From.Bare(), clip(m.MUCUser.Decline.Reason, muc.MaxReason)))
		return true
	}
	return false
}

func (e *Engine) opMUCRole(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Room   string `json:"room"`
		Nick   string `json:"nick"`
		Role   string `json:"role"`
		Reason string `json:"reason"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	rj, err := roomArg(args.Room)
	if err != nil {
		return nil, err
	}
	if _, err := nickArg(rj, args.Nick); err != nil {
		return nil, err
	}
	if !muc.ValidRole(args.Role) {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "role must be one of %v, not %q", muc.Roles, args.Role)
	}
	if err := textArg("reason", args.Reason, muc.MaxReason); err != nil {
		return nil, err
	}
	return nil, e.sendIQ(ctx, "set role in "+rj.String(), stanza.SetIQ, rj, muc.AdminItem("nick", args.Nick, "role", args.Role, args.Reason), nil)
}

func (e *Engine) opMUCAffiliation(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Room        string `json:"room"`
		JID         string `json:"jid"`
		Affiliation string `json:"affiliation"`
		Reason      string `json:"reason"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	rj, err := roomArg(args.Room)
	if err != nil {
		return nil, err
	}
	who, err := jidArg(args.JID)
	if err != nil {
		return nil, err
	}
	if !muc.ValidAffiliation(args.Affiliation) {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "affiliation must be one of %v, not %q", muc.Affiliations, args.Affiliation)
	}
	if err := textArg("reason", args.Reason, muc.MaxReason); err != nil {
		return nil, err
	}
	return nil, e.sendIQ(ctx, "set affiliation in "+rj.String(), stanza.SetIQ, rj, muc.AdminItem("jid", who.Bare().String(), "affiliation", args.Affiliation, args.Reason), nil)
}

func (e *Engine) opMUCOccupants(_ context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Room string `json:"room"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	rj, err := roomArg(args.Room)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.st.rooms[rj.String()]
	if r == nil {
		return nil, protocol.Errorf(string(stanza.ItemNotFound), "not in room %s", rj)
	}
	return map[string]any{"items": r.occupantList()}, nil
}

// persistRoomsLocked keeps the rooms we are in, to join them again after a reload.
func (e *Engine) persistRoomsLocked() {
	list := []storedRoom{}
	for _, r := range e.st.rooms {
		if r.State == protocol.RoomJoined || r.State == protocol.RoomJoining {
			list = append(list, storedRoom{JID: r.JID, Nick: r.Nick, Password: r.password})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].JID < list[j].JID })
	e.persistLocked(keyRooms, list)
}

// roomsRejoiningLocked marks the rooms we were in as joining when a new stream (not a
// resumed one) starts, before it serves any stanza: the server forgot us there, the outbox holds
// their messages until mucFreshLogin's joins complete, and news of our previous occupant
// leaving is not taken for our own exit. e.mu must be held.
func (e *Engine) roomsRejoiningLocked() {
	for _, r := range e.st.rooms {
		if r.State == protocol.RoomJoined || r.State == protocol.RoomJoining {
			r.State = protocol.RoomJoining
			e.emitLocked("room", r.Room)
		}
	}
}

// mucFreshLogin joins again, after a login that did not resume the stream, the rooms we were
// in (marked by roomsRejoiningLocked), and the bookmarked rooms marked autojoin.
func (e *Engine) mucFreshLogin(sess *xmpp.Session) {
	joins := map[string]joinArgs{}
	e.mu.Lock()
	for k, r := range e.st.rooms {
		if r.State == protocol.RoomJoining {
			joins[k] = joinArgs{Room: k, Nick: r.Nick, Password: r.password}
		}
	}
	e.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
		defer cancel()
		if len(joins) == 0 { // a reload: the rooms of the previous run
			var stored []storedRoom
			if _, err := storage.GetJSON(ctx, e.store, keyRooms, &stored); err != nil {
				e.log.Warn("read stored rooms", "err", err)
			}
			for _, s := range stored {
				joins[s.JID] = joinArgs{Room: s.JID, Nick: s.Nick, Password: s.Password}
			}
		}
		bms, err := e.fetchBookmarks(ctx)
		if err != nil {
			e.log.Warn("bookmarks unavailable", "err", err)
		}
		for _, b := range bms {
			if _, ok := joins[b.JID]; ok || !b.Autojoin {
				continue
			}
			nick := b.Nick
			if nick == "" {
				nick = sess.LocalAddr().Localpart()
			}
			joins[b.JID] = joinArgs{Room: b.JID, Nick: nick, Password: b.Password}
		}
		for _, a := range joins {
			go func() {
				if _, err := e.join(context.Background(), a, false); err != nil {
					e.log.Warn("rejoin room", "room", a.Room, "err", err)
				}
			}()
		}
	}()
}
