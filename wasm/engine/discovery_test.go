package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/disco"
	"github.com/sparkweb/sparkweb/wasm/engine"
	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/storage"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// capsClient logs user/resource in to Prosody without an engine, announces caps ver in its
// presence and answers disco#info with info whatever the node; it counts the queries.
func capsClient(t *testing.T, s stack, user, resource string, info disco.Info, ver string) *atomic.Int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := xmppws.Dial(ctx, s.prosody.WebSocketURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := xmppws.Login(ctx, conn, xmppws.LoginConfig{JID: jid.MustParse(user + "@localhost/" + resource), Password: user + "-pw", AllowPlain: true})
	if err != nil {
		t.Fatal(err)
	}
	var queries atomic.Int32
	go func() {
		_ = sess.Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			iq, err := stanza.NewIQ(*start)
			if err != nil || start.Name.Local != "iq" || iq.Type != stanza.GetIQ {
				return nil
			}
			d := xml.NewTokenDecoder(r)
			for {
				tok, err := d.Token()
				if err != nil {
					return nil
				}
				if se, ok := tok.(xml.StartElement); ok && se.Name.Space == disco.NSInfo {
					var q disco.Info
					if err := d.DecodeElement(&q, &se); err != nil {
						return err
					}
					queries.Add(1)
					answer := info
					answer.Node = q.Node
					_, err := xmlstream.Copy(r, iq.Result(answer.TokenReader()))
					return err
				}
			}
		}))
	}()
	t.Cleanup(func() { _ = sess.Close(); _ = conn.Close() })
	c := disco.Caps{Hash: "sha-1", Node: "urn:example:test", Ver: ver}
	p := stanza.Presence{XMLName: xml.Name{Space: stanza.NSClient, Local: "presence"}}
	if err := sess.Send(ctx, p.Wrap(c.TokenReader())); err != nil {
		t.Fatal(err)
	}
	return &queries
}

func infoOf(features ...string) disco.Info {
	in := disco.Info{Identities: []disco.Identity{{Category: "client", Type: "bot", Name: "test"}}}
	for _, f := range features {
		in.Features = append(in.Features, disco.Feature{Var: f})
	}
	return in
}

func fails(t *testing.T, e *engine.Engine, op string, args any) *protocol.Error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp := e.Do(ctx, req(op, args))
	if resp.OK {
		b, _ := json.Marshal(resp.Result)
		t.Fatalf("%s %v succeeded: %s", op, args, b)
	}
	return resp.Error
}

// TestDiscoAndCaps covers service discovery both ways and entity capabilities against Prosody:
// its PEP service must accept the hash we announce (it asks once, then knows it for every
// client announcing it), and contacts' hashes are resolved, checked and kept across restarts.
func TestDiscoAndCaps(t *testing.T) {
	s := startFriends(t, testenv.ProsodyOptions{})
	s.prosody.AddUser(t, "carol", "carol-pw")
	s.prosody.Befriend(t, "alice", "carol")
	store := storage.NewMemory()
	aliceTab := newRecorder()
	alice := engine.New(engine.Config{RelayURL: s.relay, Emit: aliceTab.emit, Store: store})
	do(t, alice, "session.login", map[string]string{"jid": "alice@localhost", "password": "alice-pw", "resource": "desk"})

	// Prosody's PEP does not know our hash yet: it asks alice's engine at node#ver...
	waitFor(t, func() bool { return alice.CapsQueries() > 0 })
	// ...and keeps it only if its own hash of the answer equals the one announced: bob's engine,
	// announcing the same, is never asked. Bob's disco.info after his presence is answered after
	// any query Prosody sent him for it.
	bob, _ := login(t, s, "bob", "laptop")
	do(t, bob, "disco.info", map[string]string{"jid": "localhost"})
	if n := bob.CapsQueries(); n != 0 {
		t.Fatalf("Prosody asked bob %d times for a hash it had from alice: it did not verify our hash", n)
	}

	// Discovery of the server and of a client.
	var info protocol.DiscoInfo
	_ = json.Unmarshal(do(t, alice, "disco.info", map[string]string{"jid": "localhost"}), &info)
	if !slices.Contains(info.Features, disco.NSInfo) || !slices.ContainsFunc(info.Identities, func(id protocol.DiscoIdentity) bool {
		return id.Category == "server" && id.Type == "im"
	}) {
		t.Errorf("disco.info localhost = %+v", info)
	}
	var items protocol.DiscoItems
	_ = json.Unmarshal(do(t, alice, "disco.items", map[string]string{"jid": "localhost"}), &items)
	if !slices.ContainsFunc(items.Items, func(it protocol.DiscoItem) bool { return it.JID == "upload.localhost" }) {
		t.Errorf("disco.items localhost = %+v, want upload.localhost", items)
	}
	_ = json.Unmarshal(do(t, bob, "disco.info", map[string]string{"jid": "alice@localhost/desk"}), &info)
	if !slices.Contains(info.Features, "urn:xmpp:receipts") || !slices.Contains(info.Features, "urn:xmpp:ping") ||
		len(info.Identities) != 1 || info.Identities[0] != (protocol.DiscoIdentity{Category: "client", Type: "web", Name: "SparkWeb"}) {
		t.Errorf("disco.info of alice's engine = %+v", info)
	}
	for _, tc := range []struct {
		args any
		code string
	}{
		{map[string]string{"jid": "alice@localhost/desk", "node": "urn:example:nothing"}, "item-not-found"},
		{map[string]string{}, "bad-request"},
		{map[string]string{"jid": "@"}, "bad-request"},
		{map[string]any{"jid": 7}, "bad-request"},
	} {
		if err := fails(t, bob, "disco.info", tc.args); err.Code != tc.code {
			t.Errorf("disco.info %v: %v, want %s", tc.args, err, tc.code)
		}
	}

	// A contact's caps: resolved once, shown in its presence, its features listed.
	carolInfo := infoOf(disco.NSInfo, "urn:example:carol")
	carolVer, _ := disco.Ver(carolInfo)
	carolAsked := capsClient(t, s, "carol", "raw", carolInfo, carolVer)
	aliceTab.waitEvent(t, "presence", func(d json.RawMessage) bool {
		return field(d, "jid") == "carol@localhost/raw" && field(d, "caps") == carolVer
	})
	var feats struct {
		Ver      string   `json:"ver"`
		Features []string `json:"features"`
	}
	_ = json.Unmarshal(do(t, alice, "disco.features", map[string]string{"jid": "carol@localhost/raw"}), &feats)
	if feats.Ver != carolVer || !slices.Contains(feats.Features, "urn:example:carol") {
		t.Errorf("disco.features of carol = %+v", feats)
	}
	// A resource announcing a hash its features do not have is not believed.
	liarInfo := infoOf(disco.NSInfo, "urn:example:liar")
	capsClient(t, s, "carol", "liar", liarInfo, carolVer[:len(carolVer)-4]+"AAA=")
	aliceTab.waitEvent(t, "presence", func(d json.RawMessage) bool { return field(d, "jid") == "carol@localhost/liar" })
	if err := fails(t, alice, "disco.features", map[string]string{"jid": "carol@localhost/liar"}); err.Code != "bad-request" {
		t.Errorf("disco.features of a lying resource: %v, want bad-request", err)
	}

	// Kept in storage: the next engine on this store knows carol's hash without asking her.
	asked := carolAsked.Load()
	alice.Sync()
	alice.Close()
	againTab := newRecorder()
	again := engine.New(engine.Config{RelayURL: s.relay, Emit: againTab.emit, Store: store})
	t.Cleanup(func() { again.Do(context.Background(), req("session.logout", nil)) })
	if err := again.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	againTab.waitEvent(t, "presence", func(d json.RawMessage) bool {
		return field(d, "jid") == "carol@localhost/raw" && field(d, "caps") == carolVer
	})
	_ = json.Unmarshal(do(t, again, "disco.features", map[string]string{"jid": "carol@localhost/raw"}), &feats)
	if !slices.Contains(feats.Features, "urn:example:carol") {
		t.Errorf("disco.features of carol after a restart = %+v", feats)
	}
	if n := carolAsked.Load(); n != asked {
		t.Errorf("carol was asked for her caps again after a restart (%d queries, %d before)", n, asked)
	}
}

// TestPingAnswered has another client ping our engine's full JID (XEP-0199).
func TestPingAnswered(t *testing.T) {
	s := startFriends(t, testenv.ProsodyOptions{})
	login(t, s, "alice", "desk")
	bob := rawClient(t, s, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ping.Send(ctx, bob, jid.MustParse("alice@localhost/desk")); err != nil {
		t.Fatalf("ping of alice's engine: %v", err)
	}
}

// blackhole is a TCP proxy whose existing connections can be made to swallow every byte both
// ways while staying open, as a dead NAT mapping or a lost mobile link does; connections made
// afterwards work.
type blackhole struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	gen    int // connections of an earlier generation swallow everything
	cutoff int
}

func newBlackhole(t *testing.T, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.pipe(c)
		}
	}()
	return b
}

func (b *blackhole) URL() string { return "http://" + b.ln.Addr().String() }

// Swallow makes every connection open now a black hole.
func (b *blackhole) Swallow() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	b.cutoff = b.gen
}

func (b *blackhole) pipe(c net.Conn) {
	u, err := net.Dial("tcp", b.target)
	if err != nil {
		_ = c.Close()
		return
	}
	b.mu.Lock()
	gen := b.gen
	b.mu.Unlock()
	dead := func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return gen < b.cutoff
	}
	cp := func(dst, src net.Conn) {
		defer func() { _ = dst.Close(); _ = src.Close() }()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && !dead() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go cp(u, c)
	cp(c, u)
}

// TestKeepaliveDetectsDeadLink cuts alice's link silently: no error, no close, just nothing
// getting through. The keepalive ping goes unanswered, the engine reconnects on a new
// connection and the message typed into the dead link reaches bob exactly once. Without the
// keepalive nothing would notice within the test's time (stream management's own check is
// far slower).
func TestKeepaliveDetectsDeadLink(t *testing.T) {
	s := startFriends(t, testenv.ProsodyOptions{})
	hole := newBlackhole(t, strings.TrimPrefix(s.relay, "http://"))
	aliceTab := newRecorder()
	alice := engine.New(engine.Config{RelayURL: hole.URL(), Emit: aliceTab.emit, KeepaliveInterval: 300 * time.Millisecond, KeepaliveTimeout: time.Second})
	t.Cleanup(func() { alice.Do(context.Background(), req("session.logout", nil)) })
	do(t, alice, "session.login", map[string]string{"jid": "alice@localhost", "password": "alice-pw", "resource": "desk"})
	_, bobTab := login(t, s, "bob", "laptop")

	hole.Swallow()
	id := field(do(t, alice, "chat.send", map[string]string{"to": "bob@localhost", "body": "into the void"}), "id")
	aliceTab.waitEvent(t, "session", func(d json.RawMessage) bool { return field(d, "state") == "reconnecting" })
	waitFor(t, func() bool {
		return aliceTab.count("session", func(d json.RawMessage) bool { return field(d, "state") == "online" }) >= 2
	})
	bobTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "id") == id })
	aliceTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "id") == id && pastPending(d) })
	if n := bobTab.count("message", func(d json.RawMessage) bool { return field(d, "id") == id }); n != 1 {
		t.Errorf("bob got the message %d times", n)
	}
}

// TestClientStateIndication shows Prosody's mod_csi_simple holding a contact's presence while
// the engine says the user is inactive, and delivering it once active again; the state
// survives a fresh login.
func TestClientStateIndication(t *testing.T) {
	s := startFriends(t, testenv.ProsodyOptions{})
	alice, aliceTab := login(t, s, "alice", "desk")
	bob, _ := login(t, s, "bob", "laptop")
	aliceTab.waitEvent(t, "presence", func(d json.RawMessage) bool { return field(d, "jid") == "bob@localhost/laptop" })

	held := func(status string) {
		t.Helper()
		// Once inactive alice's engine must stay silent: any IQ answer would flush the server's
		// queue. Give the server a moment to take the <inactive/>, then have bob change presence;
		// his own round trip proves the server routed it.
		time.Sleep(500 * time.Millisecond)
		do(t, bob, "presence.set", map[string]string{"status": status})
		do(t, bob, "disco.info", map[string]string{"jid": "localhost"})
		time.Sleep(time.Second)
		isStatus := func(d json.RawMessage) bool { return field(d, "status") == status }
		if n := aliceTab.count("presence", isStatus); n != 0 {
			t.Fatalf("presence %q delivered while inactive", status)
		}
		var st struct{ Active, Sent bool }
		_ = json.Unmarshal(do(t, alice, "session.active", map[string]bool{"active": true}), &st)
		if !st.Active || !st.Sent {
			t.Errorf("session.active true = %+v", st)
		}
		aliceTab.waitEvent(t, "presence", isStatus)
	}

	do(t, alice, "disco.info", map[string]string{"jid": "localhost"}) // settle what login started
	var st struct{ Active, Sent bool }
	_ = json.Unmarshal(do(t, alice, "session.active", map[string]bool{"active": false}), &st)
	if st.Active || !st.Sent {
		t.Fatalf("session.active false = %+v", st)
	}
	aliceTab.waitEvent(t, "csi", func(d json.RawMessage) bool { return string(d) == `{"active":false,"sent":true}` })
	held("held while inactive")

	// Set while online, then a fresh stream (the server forgot the session): sent again.
	do(t, alice, "session.active", map[string]bool{"active": false})
	alice.ForgetStream()
	alice.DropConnection()
	waitFor(t, func() bool {
		return aliceTab.count("session", func(d json.RawMessage) bool { return field(d, "state") == "online" }) >= 2
	})
	// What the login itself asked (roster, archive, ...) is answered while the server flushes;
	// Prosody stays in that state for 5 s after the last flush before holding again.
	time.Sleep(6 * time.Second)
	held("held after a fresh login")

	if err := fails(t, alice, "session.active", map[string]any{}); err.Code != "bad-request" {
		t.Errorf("session.active without active: %v", err)
	}
}

// TestInactiveStaysQuiet: while the server holds stanzas for an inactive client, the engine
// sends nothing that would make it flush them. With a stream management ack interval of 200 ms
// and a keepalive of 1 s, bob's presence change stays held for 2.5 s (periodic ack requests or
// a plain keepalive would each have flushed it several times over); it arrives at once when
// alice is active again. Inactive once more, the keepalive still runs, stretched to 5 s: its
// ping then flushes what is held, so a dead link is still found.
func TestInactiveStaysQuiet(t *testing.T) {
	s := startFriends(t, testenv.ProsodyOptions{})
	const keepalive = time.Second
	aliceTab := newRecorder()
	alice := engine.New(engine.Config{RelayURL: s.relay, Emit: aliceTab.emit, AckInterval: 200 * time.Millisecond, KeepaliveInterval: keepalive})
	t.Cleanup(func() { alice.Do(context.Background(), req("session.logout", nil)) })
	do(t, alice, "session.login", map[string]string{"jid": "alice@localhost", "password": "alice-pw", "resource": "desk"})
	bob, _ := login(t, s, "bob", "laptop")
	aliceTab.waitEvent(t, "presence", func(d json.RawMessage) bool { return field(d, "jid") == "bob@localhost/laptop" })
	do(t, alice, "disco.info", map[string]string{"jid": "localhost"}) // settle what login started

	hold := func(status string) func(json.RawMessage) bool {
		t.Helper()
		do(t, alice, "session.active", map[string]bool{"active": false})
		time.Sleep(300 * time.Millisecond) // the server takes the <inactive/>
		do(t, bob, "presence.set", map[string]string{"status": status})
		do(t, bob, "disco.info", map[string]string{"jid": "localhost"}) // bob's round trip: the server routed it
		return func(d json.RawMessage) bool { return field(d, "status") == status }
	}
	isHeld := hold("held")
	time.Sleep(2500 * time.Millisecond)
	if n := aliceTab.count("presence", isHeld); n != 0 {
		t.Fatal("presence delivered while inactive: the engine made the server flush")
	}
	do(t, alice, "session.active", map[string]bool{"active": true})
	aliceTab.waitEvent(t, "presence", isHeld)

	// Active: the same change arrives without waiting (the counter-test of the hold).
	do(t, bob, "presence.set", map[string]string{"status": "active again"})
	aliceTab.waitEvent(t, "presence", func(d json.RawMessage) bool { return field(d, "status") == "active again" })

	isPinged := hold("flushed by the keepalive")
	start := time.Now()
	aliceTab.waitEvent(t, "presence", isPinged)
	if waited := time.Since(start); waited < 3*keepalive {
		t.Errorf("the held presence arrived after %v: the keepalive was not stretched", waited)
	}
	t.Logf("held presence flushed by the stretched keepalive after %v", time.Since(start).Round(10*time.Millisecond))
}

// TestUpload gets upload slots from Prosody's mod_http_file_share and ejabberd's
// mod_http_upload, uploads and downloads over HTTP (with a CORS preflight, as a page on the
// relay's origin does), refuses files over the limit, and shares the URL with an OOB link
// (XEP-0066).
func TestUpload(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, x *testenv.Server) {
		x.AddUser(t, "alice", "alice-pw")
		x.AddUser(t, "bob", "bob-pw")
		x.Befriend(t, "alice", "bob")
		testUpload(t, stackOn(t, x))
	})
}

// TestUploadUnavailable: a server without an upload service is feature-not-implemented.
func TestUploadUnavailable(t *testing.T) {
	s := startFriends(t, testenv.ProsodyOptions{Env: []string{"PROSODY_UPLOAD=0"}})
	alice, _ := login(t, s, "alice", "desk")
	if err := fails(t, alice, "upload.slot", map[string]any{"filename": "a.txt", "size": 10}); err.Code != "feature-not-implemented" {
		t.Errorf("upload.slot without an upload service: %v", err)
	}
}

func testUpload(t *testing.T, s stack) {
	alice, _ := login(t, s, "alice", "desk")
	_, bobTab := login(t, s, "bob", "laptop")

	const limit = 10 << 20 // testenv/prosody.cfg.lua, testenv/ejabberd.yml
	err := fails(t, alice, "upload.slot", map[string]any{"filename": "big.bin", "size": limit + 1, "contentType": "application/octet-stream"})
	if err.Code != "not-acceptable" || !strings.Contains(err.Message, "10485760") {
		t.Errorf("a slot over the limit: %v, want not-acceptable naming the limit", err)
	}
	for _, args := range []map[string]any{
		{"filename": "", "size": 10},
		{"filename": "a/b", "size": 10},
		{"filename": "a", "size": 0},
		{"filename": "a", "size": 10, "contentType": "text/plain\r\nX-Evil: 1"},
	} {
		if err := fails(t, alice, "upload.slot", args); err.Code != "bad-request" {
			t.Errorf("upload.slot %v: %v, want bad-request", args, err)
		}
	}

	data := make([]byte, 100<<10)
	_, _ = rand.Read(data)
	var slot protocol.UploadSlot
	_ = json.Unmarshal(do(t, alice, "upload.slot", map[string]any{"filename": "hello world.bin", "size": len(data), "contentType": "application/octet-stream"}), &slot)
	if slot.MaxSize != limit || !strings.HasPrefix(slot.Put, "http://") || !strings.HasPrefix(slot.Get, "http://") {
		t.Fatalf("slot = %+v", slot)
	}
	// The browser's preflight for a cross-origin PUT with a Content-Type.
	const origin = "http://relay.example:8080"
	pre, _ := http.NewRequest(http.MethodOptions, slot.Put, nil)
	pre.Header.Set("Origin", origin)
	pre.Header.Set("Access-Control-Request-Method", "PUT")
	pre.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, herr := http.DefaultClient.Do(pre)
	if herr != nil {
		t.Fatal(herr)
	}
	_ = resp.Body.Close()
	if ao := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode/100 != 2 || (ao != "*" && ao != origin) ||
		!strings.Contains(strings.ToUpper(resp.Header.Get("Access-Control-Allow-Methods")), "PUT") ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "content-type") {
		t.Errorf("CORS preflight: %s %v", resp.Status, resp.Header)
	}
	put, _ := http.NewRequest(http.MethodPut, slot.Put, bytes.NewReader(data))
	put.Header.Set("Content-Type", "application/octet-stream")
	for k, v := range slot.Headers {
		put.Header.Set(k, v)
	}
	put.Header.Set("Origin", origin)
	resp, herr = http.DefaultClient.Do(put)
	if herr != nil {
		t.Fatal(herr)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	if ao := resp.Header.Get("Access-Control-Allow-Origin"); ao != "*" && ao != origin {
		t.Errorf("PUT answered without CORS for the page: Access-Control-Allow-Origin %q", ao)
	}
	resp, herr = http.Get(slot.Get)
	if herr != nil {
		t.Fatal(herr)
	}
	got, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("GET returned %d bytes, not the %d uploaded", len(got), len(data))
	}

	id := field(do(t, alice, "chat.send", map[string]string{"to": "bob@localhost", "body": slot.Get, "oob": slot.Get}), "id")
	m := asMessage(bobTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "id") == id }))
	if m.OOB == nil || m.OOB.URL != slot.Get {
		t.Errorf("bob got %+v, want oob %s", m, slot.Get)
	}
	if err := fails(t, alice, "chat.send", map[string]string{"to": "bob@localhost", "body": "x", "oob": "javascript:alert(1)"}); err.Code != "bad-request" {
		t.Errorf("chat.send with a javascript: oob: %v", err)
	}
	// From the network, a link that is not http(s) never reaches a tab.
	raw := rawClient(t, s, "alice")
	sendRaw(t, raw, `<message xmlns="jabber:client" to="bob@localhost" type="chat" id="evil-oob"><body>click</body><x xmlns="jabber:x:oob"><url>javascript:alert(1)</url></x></message>`)
	m = asMessage(bobTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "id") == "evil-oob" }))
	if m.OOB != nil {
		t.Errorf("a javascript: OOB link reached the tab: %+v", m.OOB)
	}
}

// TestDiscoEjabberd runs discovery, caps and CSI against ejabberd, whose mod_caps also asks
// about our hash, and which offers CSI (mod_client_state). Its HTTP upload is in TestUpload.
func TestDiscoEjabberd(t *testing.T) {
	x := testenv.StartEjabberd(t)
	x.AddUser(t, "alice", "alice-pw")
	x.AddUser(t, "bob", "bob-pw")
	x.Befriend(t, "alice", "bob")
	s := stackOn(t, x)
	alice, _ := login(t, s, "alice", "desk")
	bob, _ := login(t, s, "bob", "laptop")
	waitFor(t, func() bool { return alice.CapsQueries()+bob.CapsQueries() > 0 })

	var info protocol.DiscoInfo
	_ = json.Unmarshal(do(t, bob, "disco.info", map[string]string{"jid": "alice@localhost/desk"}), &info)
	if !slices.Contains(info.Features, "urn:xmpp:receipts") || len(info.Identities) != 1 {
		t.Errorf("disco.info of alice's engine through ejabberd = %+v", info)
	}
	var items protocol.DiscoItems
	_ = json.Unmarshal(do(t, alice, "disco.items", map[string]string{"jid": "localhost"}), &items)
	if len(items.Items) == 0 {
		t.Errorf("disco.items localhost = %+v", items)
	}
	var st struct{ Active, Sent bool }
	_ = json.Unmarshal(do(t, alice, "session.active", map[string]bool{"active": false}), &st)
	if !st.Sent {
		t.Errorf("session.active on ejabberd = %+v, want sent", st)
	}
}
