package engine_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/engine"
	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// wireMessage is a message as a raw client received it: what the engines put on the wire.
type wireMessage struct {
	From    string `xml:"from,attr"`
	Type    string `xml:"type,attr"`
	ID      string `xml:"id,attr"`
	Body    string `xml:"body"`
	Replace *struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:message-correct:0 replace"`
	Retract *struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:message-retract:1 retract"`
	Reactions *struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:reactions:0 reactions"`
	Reply *struct {
		ID string `xml:"id,attr"`
		To string `xml:"to,attr"`
	} `xml:"urn:xmpp:reply:0 reply"`
	Composing *struct{} `xml:"http://jabber.org/protocol/chatstates composing"`
	Displayed *struct{} `xml:"urn:xmpp:chat-markers:0 displayed"`
	MUCUser   *struct{} `xml:"http://jabber.org/protocol/muc#user x"`
	OriginID  *struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:sid:0 origin-id"`
}

// rawOccupant is a client without an engine in a room: it sends what no engine would (forged
// corrections and retractions) and records the messages it receives.
type rawOccupant struct {
	sess *xmpp.Session
	mu   sync.Mutex
	got  []wireMessage
	in   chan struct{}
}

// joinRaw logs user in to x directly and joins room as nick.
func joinRaw(t *testing.T, x *testenv.Server, user, room, nick string) *rawOccupant {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := xmppws.Dial(ctx, x.WebSocketURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := xmppws.Login(ctx, conn, xmppws.LoginConfig{JID: jid.MustParse(user + "@" + x.Domain + "/raw"), Password: user + "-pw", AllowPlain: true})
	if err != nil {
		t.Fatal(err)
	}
	o := &rawOccupant{sess: sess, in: make(chan struct{}, 1)}
	joined := make(chan struct{})
	var once sync.Once
	go func() {
		_ = sess.Serve(xmpp.HandlerFunc(func(tr xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), tr))
			switch start.Name.Local {
			case "presence":
				var p struct {
					From string `xml:"from,attr"`
				}
				if err := d.Decode(&p); err == nil && p.From == room+"/"+nick {
					once.Do(func() { close(joined) })
				}
			case "message":
				var m wireMessage
				if err := d.Decode(&m); err == nil {
					o.mu.Lock()
					o.got = append(o.got, m)
					o.mu.Unlock()
					select {
					case o.in <- struct{}{}:
					default:
					}
				}
			}
			return nil
		}))
	}()
	t.Cleanup(func() { _ = sess.Close(); _ = conn.Close() })
	o.send(t, fmt.Sprintf(`<presence xmlns='jabber:client' to='%s/%s'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`, room, nick))
	select {
	case <-joined:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not get into %s", user, room)
	}
	return o
}

func (o *rawOccupant) send(t *testing.T, s string) {
	t.Helper()
	sendRaw(t, o.sess, s)
}

// wait returns the first message received that satisfies ok.
func (o *rawOccupant) wait(t *testing.T, what string, ok func(wireMessage) bool) wireMessage {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		o.mu.Lock()
		i := slices.IndexFunc(o.got, ok)
		var m wireMessage
		if i >= 0 {
			m = o.got[i]
		}
		o.mu.Unlock()
		if i >= 0 {
			return m
		}
		select {
		case <-o.in:
		case <-deadline:
			t.Fatalf("raw client never received %s", what)
		}
	}
}

func (o *rawOccupant) count(ok func(wireMessage) bool) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, m := range o.got {
		if ok(m) {
			n++
		}
	}
	return n
}

// occupantOf returns the occupant nick of room as e's snapshot has it.
func occupantOf(t *testing.T, e *engine.Engine, room, nick string) protocol.Occupant {
	t.Helper()
	for _, o := range e.Snapshot().Occupants[room] {
		if o.Nick == nick {
			return o
		}
	}
	t.Fatalf("no occupant %s in %s", nick, room)
	return protocol.Occupant{}
}

// TestRoomMessageExtensions runs corrections, retractions, reactions, replies, chat states and
// displayed markers in a room, and private messages through it, on each server: bob's engine
// applies alice's edits to the right message, a raw client sees them name messages as the
// XEPs say (stanza-id for retractions, reactions and replies), and edits forged by another
// occupant are refused.
func TestRoomMessageExtensions(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, x *testenv.Server) {
		s := stackOn(t, x)
		for _, u := range []string{"alice", "bob", "mallory"} {
			x.AddUser(t, u, u+"-pw")
		}
		alice, aliceTab := login(t, s, "alice", "desk")
		bob, bobTab := login(t, s, "bob", "laptop")
		joinRoom(t, alice, room1, "Alice", nil)
		joinRoom(t, bob, room1, "Bob", nil)
		mal := joinRaw(t, x, "mallory", room1, "Mallory")
		waitOccupant(t, bobTab, room1, func(o protocol.Occupant) bool { return o.Nick == "Mallory" })
		prosody := x.Env["EJABBERD_DOMAIN"] == ""

		// sendRoom sends body as e and returns its id and stanza-id once the room echoed it and
		// bob has it.
		sendRoom := func(e *engine.Engine, tab *recorder, body string) (id, sid string) {
			t.Helper()
			id = field(do(t, e, "chat.send", map[string]string{"to": room1, "body": body}), "id")
			sid = waitMessage(t, tab, id, func(m protocol.Message) bool { return m.State == "sent" }).StanzaID
			waitMessage(t, bobTab, id, func(protocol.Message) bool { return true })
			if sid == "" {
				t.Fatalf("the room gave %q no stanza-id", body)
			}
			return id, sid
		}
		a1, sa1 := sendRoom(alice, aliceTab, "helo wrold")

		// Correction: by the message's id (XEP-0308), applied by bob to that message.
		do(t, alice, "chat.correct", map[string]string{"to": room1, "id": a1, "body": "hello *world*"})
		fixed := waitMessage(t, bobTab, a1, func(m protocol.Message) bool { return m.CorrectedAt != "" })
		if fixed.Body != "hello *world*" || fixed.Nick != "Alice" || len(fixed.Styled) == 0 {
			t.Errorf("bob's corrected message = %+v", fixed)
		}
		if w := mal.wait(t, "the correction", func(m wireMessage) bool { return m.Replace != nil }); w.Replace.ID != a1 || w.Type != "groupchat" {
			t.Errorf("correction on the wire = %+v, want replace id %s", w, a1)
		}
		if prosody && fixed.OccupantID == "" {
			t.Errorf("Prosody gives occupant ids, the message has none: %+v", fixed)
		}

		// Another occupant's correction and retraction of alice's message are refused. The room
		// keeps one sender's order: once bob has mallory's next message, he handled both.
		mal.send(t, fmt.Sprintf(`<message xmlns='jabber:client' type='groupchat' to='%s' id='forged1'><body>forged</body><replace xmlns='urn:xmpp:message-correct:0' id='%s'/></message>`, room1, a1))
		mal.send(t, fmt.Sprintf(`<message xmlns='jabber:client' type='groupchat' to='%s' id='forged2'><body>x</body><retract xmlns='urn:xmpp:message-retract:1' id='%s'/></message>`, room1, sa1))
		mal.send(t, fmt.Sprintf(`<message xmlns='jabber:client' type='groupchat' to='%s' id='forged3'><body>forged</body><replace xmlns='urn:xmpp:message-correct:0' id='%s'/><occupant-id xmlns='urn:xmpp:occupant-id:0' id='%s'/></message>`, room1, a1, fixed.OccupantID))
		mal.send(t, fmt.Sprintf(`<message xmlns='jabber:client' type='groupchat' to='%s' id='after'><body>after the forgeries</body></message>`, room1))
		waitMessage(t, bobTab, "after", func(protocol.Message) bool { return true })
		conv := bob.Snapshot().Conversations[room1]
		if m := convMessage(t, conv, a1); m.Body != "hello *world*" || m.Retracted {
			t.Errorf("a forged edit changed alice's message: %+v", m)
		}
		for _, id := range []string{"forged1", "forged2", "forged3"} {
			if slices.ContainsFunc(conv, func(m protocol.Message) bool { return m.ID == id }) {
				t.Errorf("forged edit %s filed as a message", id)
			}
		}

		// Reactions: by the room's stanza-id (XEP-0444), filed under the occupant.
		b1, sb1 := sendRoom(bob, bobTab, "react to me")
		waitMessage(t, aliceTab, b1, func(protocol.Message) bool { return true })
		do(t, alice, "chat.react", map[string]any{"to": room1, "id": b1, "reactions": []string{"👍"}})
		reacted := waitMessage(t, bobTab, b1, func(m protocol.Message) bool { return len(m.Reactions) > 0 })
		occ := occupantOf(t, bob, room1, "Alice")
		want := room1 + "/Alice"
		switch {
		case occ.JID != "":
			want = strings.SplitN(occ.JID, "/", 2)[0]
		case occ.OccupantID != "":
			want = occ.OccupantID
		case prosody:
			t.Errorf("Prosody gives occupant ids, bob's occupant Alice has none: %+v", occ)
		}
		if len(reacted.Reactions) != 1 || !slices.Equal(reacted.Reactions[want], []string{"👍"}) {
			t.Errorf("bob's reactions = %v, want 👍 under %q", reacted.Reactions, want)
		}
		if w := mal.wait(t, "the reaction", func(m wireMessage) bool { return m.Reactions != nil }); w.Reactions.ID != sb1 {
			t.Errorf("reaction names %q, want the stanza-id %q", w.Reactions.ID, sb1)
		}
		if m := convMessage(t, alice.Snapshot().Conversations[room1], b1); len(m.Reactions) != 1 {
			t.Errorf("alice's own copy has reactions %v", m.Reactions)
		}
		do(t, alice, "chat.react", map[string]any{"to": room1, "id": b1, "reactions": []string{}})
		waitFor(t, func() bool { return len(convMessage(t, bob.Snapshot().Conversations[room1], b1).Reactions) == 0 })
		// An occupant id the room did not vouch for names nobody: Prosody replaces it with
		// mallory's, ejabberd 23.01 (no XEP-0421) passes it on and it is ignored.
		mal.send(t, fmt.Sprintf(`<message xmlns='jabber:client' type='groupchat' to='%s' id='malreact'><reactions xmlns='urn:xmpp:reactions:0' id='%s'><reaction>🙃</reaction></reactions><occupant-id xmlns='urn:xmpp:occupant-id:0' id='spoofed'/></message>`, room1, sb1))
		spoof := waitMessage(t, bobTab, b1, func(m protocol.Message) bool {
			return strings.Contains(fmt.Sprint(m.Reactions), "🙃")
		})
		malKey := room1 + "/Mallory"
		if prosody {
			malKey = occupantOf(t, bob, room1, "Mallory").OccupantID
		}
		if len(spoof.Reactions) != 1 || !slices.Equal(spoof.Reactions[malKey], []string{"🙃"}) {
			t.Errorf("mallory's reaction filed as %v, want under %q", spoof.Reactions, malKey)
		}

		// Retraction: by the room's stanza-id (XEP-0424); the fallback body is no message.
		do(t, alice, "chat.retract", map[string]string{"to": room1, "id": a1})
		gone := waitMessage(t, bobTab, a1, func(m protocol.Message) bool { return m.Retracted })
		if gone.Body != "" {
			t.Errorf("retracted message keeps its body: %+v", gone)
		}
		if w := mal.wait(t, "the retraction", func(m wireMessage) bool { return m.Retract != nil }); w.Retract.ID != sa1 {
			t.Errorf("retraction names %q, want the stanza-id %q", w.Retract.ID, sa1)
		}
		if code := doErr(t, bob, "chat.retract", map[string]string{"to": room1, "id": "no-such"}); code != "item-not-found" {
			t.Errorf("retracting an unknown message: %q", code)
		}
		if code := doErr(t, bob, "chat.correct", map[string]string{"to": room1, "id": a1, "body": "mine now"}); code != "forbidden" {
			t.Errorf("correcting alice's message as bob: %q, want forbidden", code)
		}

		// Reply: by stanza-id and occupant JID on the wire, by message id for the tabs.
		a2, sa2 := sendRoom(alice, aliceTab, "any questions?")
		rid := field(do(t, bob, "chat.send", map[string]any{"to": room1, "body": "one", "replyTo": map[string]string{"id": a2}}), "id")
		got := waitMessage(t, aliceTab, rid, func(protocol.Message) bool { return true })
		if got.ReplyTo == nil || got.ReplyTo.ID != a2 || got.ReplyTo.To != room1+"/Alice" {
			t.Errorf("alice got the reply %+v (replyTo %+v)", got, got.ReplyTo)
		}
		if w := mal.wait(t, "the reply", func(m wireMessage) bool { return m.Reply != nil }); w.Reply.ID != sa2 || w.Reply.To != room1+"/Alice" {
			t.Errorf("reply on the wire = %+v, want id %s to %s/Alice", w.Reply, sa2, room1)
		}

		// Chat state: a groupchat message; bob learns who types, alice not her own.
		do(t, alice, "chat.state", map[string]string{"to": room1, "state": "composing"})
		bobTab.waitEvent(t, "chatstate", func(d json.RawMessage) bool {
			return field(d, "from") == room1+"/Alice" && field(d, "with") == room1 && field(d, "nick") == "Alice" && field(d, "state") == "composing"
		})
		if w := mal.wait(t, "the chat state", func(m wireMessage) bool { return m.Composing != nil }); w.Type != "groupchat" {
			t.Errorf("chat state to the room has type %q", w.Type)
		}

		// Displayed: the tabs are told, the room is not.
		if res := do(t, alice, "chat.displayed", map[string]string{"with": room1, "id": b1}); string(res) != "null" {
			t.Errorf("chat.displayed in a room = %s", res)
		}
		aliceTab.waitEvent(t, "displayed", func(d json.RawMessage) bool {
			return field(d, "id") == b1 && field(d, "with") == room1 && strings.Contains(string(d), `"outgoing":true`)
		})

		// Private messages through the room: a conversation of their own, keyed by the occupant.
		pm := field(do(t, alice, "chat.send", map[string]string{"to": room1 + "/Bob", "body": "psst"}), "id")
		in := waitMessage(t, bobTab, pm, func(protocol.Message) bool { return true })
		if in.Type != "chat" || in.With != room1+"/Alice" || in.From != room1+"/Alice" || in.Nick != "Alice" || in.Outgoing {
			t.Errorf("bob's private message = %+v", in)
		}
		out := waitMessage(t, aliceTab, pm, func(m protocol.Message) bool { return m.State == "sent" })
		if out.Type != "chat" || out.With != room1+"/Bob" || !out.Outgoing {
			t.Errorf("alice's private message = %+v", out)
		}
		back := field(do(t, bob, "chat.send", map[string]string{"to": room1 + "/Alice", "body": "what?"}), "id")
		if m := waitMessage(t, aliceTab, back, func(protocol.Message) bool { return true }); m.With != room1+"/Bob" || m.Nick != "Bob" || m.Type != "chat" {
			t.Errorf("alice got bob's private answer as %+v", m)
		}
		snap := bob.Snapshot()
		convMessage(t, snap.Conversations[room1+"/Alice"], pm)
		convMessage(t, snap.Conversations[room1+"/Alice"], back)
		if slices.ContainsFunc(snap.Conversations[room1], func(m protocol.Message) bool { return m.ID == pm || m.ID == back }) {
			t.Errorf("a private message was filed in the room's conversation")
		}
		// History pages the account's archive for that occupant only.
		mal.send(t, fmt.Sprintf(`<message xmlns='jabber:client' type='chat' to='%s/Bob' id='malbob'><body>from mallory</body></message>`, room1))
		if m := waitMessage(t, bobTab, "malbob", func(protocol.Message) bool { return true }); m.With != room1+"/Mallory" {
			t.Errorf("mallory's private message to bob = %+v", m)
		}
		var hist protocol.History
		_ = json.Unmarshal(do(t, bob, "chat.history", map[string]any{"with": room1 + "/Alice"}), &hist)
		if len(hist.Messages) != 2 || hist.Messages[0].ID != pm || hist.Messages[1].ID != back || hist.Messages[0].With != room1+"/Alice" || hist.Messages[0].Nick != "Alice" {
			t.Errorf("private history with Alice = %+v", hist.Messages)
		}
		// It says it is one (XEP-0045 §7.5), and an answer without that mark is still one.
		toMal := field(do(t, alice, "chat.send", map[string]string{"to": room1 + "/Mallory", "body": "hi"}), "id")
		if w := mal.wait(t, "the private message", func(m wireMessage) bool { return m.OriginID != nil && m.OriginID.ID == toMal }); w.Type != "chat" || w.MUCUser == nil || w.From != room1+"/Alice" {
			t.Errorf("private message on the wire = %+v", w)
		}
		mal.send(t, fmt.Sprintf(`<message xmlns='jabber:client' type='chat' to='%s/Alice' id='malpm'><body>hello alice</body></message>`, room1))
		if m := waitMessage(t, aliceTab, "malpm", func(protocol.Message) bool { return true }); m.With != room1+"/Mallory" || m.Nick != "Mallory" {
			t.Errorf("mallory's private message = %+v", m)
		}
		// Alice's private corrections work there too; markers were never sent to the room.
		do(t, alice, "chat.correct", map[string]string{"to": room1 + "/Bob", "id": pm, "body": "psst!"})
		waitMessage(t, bobTab, pm, func(m protocol.Message) bool { return m.Body == "psst!" && m.With == room1+"/Alice" })
		if n := mal.count(func(m wireMessage) bool { return m.Displayed != nil }); n != 0 {
			t.Errorf("the room relayed %d displayed markers", n)
		}

		// Moderation (XEP-0425): Prosody's mod_muc_moderation (0.2 form); ejabberd 23.01 has none.
		spam, sspam := sendRoom(bob, bobTab, "buy cheap watches")
		// An occupant claiming a moderation is no moderator: only the room announces one.
		mal.send(t, fmt.Sprintf(`<message xmlns='jabber:client' type='groupchat' to='%s' id='fakemod'><retract xmlns='urn:xmpp:message-retract:1' id='%s'><moderated xmlns='urn:xmpp:message-moderate:1' by='%s/Alice'/></retract></message>`, room1, sspam, room1))
		mal.send(t, fmt.Sprintf(`<message xmlns='jabber:client' type='groupchat' to='%s' id='after2'><body>and now?</body></message>`, room1))
		waitMessage(t, aliceTab, "after2", func(protocol.Message) bool { return true })
		if m := convMessage(t, alice.Snapshot().Conversations[room1], spam); m.Retracted {
			t.Errorf("an occupant's moderation claim retracted bob's message: %+v", m)
		}
		if !prosody {
			if code := doErr(t, alice, "muc.moderate", map[string]string{"room": room1, "id": spam}); code != "feature-not-implemented" {
				t.Errorf("moderation on ejabberd 23.01: %q, want feature-not-implemented", code)
			}
			return
		}
		if code := doErr(t, bob, "muc.moderate", map[string]string{"room": room1, "id": a2}); code != "forbidden" {
			t.Errorf("a participant moderating: %q, want forbidden", code)
		}
		do(t, alice, "muc.moderate", map[string]string{"room": room1, "id": spam, "reason": "spam"})
		for _, tab := range []*recorder{bobTab, aliceTab} {
			m := waitMessage(t, tab, spam, func(m protocol.Message) bool { return m.Retracted })
			if m.Body != "" || m.Moderated == nil || m.Moderated.By != room1+"/Alice" || m.Moderated.Reason != "spam" {
				t.Errorf("moderated message = %+v (moderated %+v)", m, m.Moderated)
			}
		}
	})
}
