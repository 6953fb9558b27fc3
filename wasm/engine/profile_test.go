package engine_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/engine"
	"github.com/sparkweb/sparkweb/wasm/protocol"
	"github.com/sparkweb/sparkweb/wasm/storage"
)

// friendsOn starts a relay in front of x with alice and bob in each other's roster.
func friendsOn(t *testing.T, x *testenv.Server) stack {
	t.Helper()
	x.AddUser(t, "alice", "alice-pw")
	x.AddUser(t, "bob", "bob-pw")
	x.Befriend(t, "alice", "bob")
	return stackOn(t, x)
}

// TestProfile edits and reads vCards on both servers: vCard4 in PEP on Prosody, vcard-temp on
// ejabberd. A contact reads what the owner wrote; fields left out of profile.set stay.
func TestProfile(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, x *testenv.Server) {
		s := friendsOn(t, x)
		alice, aliceTab := login(t, s, "alice", "desk")
		bob, _ := login(t, s, "bob", "laptop")

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if got, want := alice.UsesVCard4(ctx), x.Domain != "" && x.Env["EJABBERD_DOMAIN"] == ""; got != want {
			t.Errorf("uses vCard4 = %v, want %v (Prosody offers it, ejabberd does not)", got, want)
		}

		var empty protocol.Profile
		_ = json.Unmarshal(do(t, alice, "profile.get", nil), &empty)
		if empty != (protocol.Profile{JID: "alice@localhost"}) {
			t.Errorf("profile before any edit = %+v", empty)
		}

		want := protocol.Profile{
			JID: "alice@localhost", FN: "Alice Liddell", Nickname: "ally", Email: "alice@example.org",
			Tel: "+44 1865 000000", URL: "https://example.org/~alice", Note: "<b>not markup</b> & co\nline two",
			Org: "Wonderland", Title: "Explorer", Birthday: "1852-05-04",
		}
		args := map[string]string{"fn": want.FN, "nickname": want.Nickname, "email": want.Email, "tel": want.Tel,
			"url": want.URL, "note": want.Note, "org": want.Org, "title": want.Title, "birthday": want.Birthday}
		var got protocol.Profile
		_ = json.Unmarshal(do(t, alice, "profile.set", args), &got)
		if got != want {
			t.Errorf("profile.set = %+v\nwant %+v", got, want)
		}
		aliceTab.waitEvent(t, "profile", func(d json.RawMessage) bool { return field(d, "fn") == want.FN })
		for name, e := range map[string]*engine.Engine{"alice": alice, "bob": bob} {
			got = protocol.Profile{}
			_ = json.Unmarshal(do(t, e, "profile.get", map[string]string{"jid": "alice@localhost/elsewhere"}), &got)
			if got != want {
				t.Errorf("%s reads %+v\nwant %+v", name, got, want)
			}
		}

		// A partial edit keeps the other fields; "" clears one.
		do(t, alice, "profile.set", map[string]string{"fn": "Alice L.", "tel": ""})
		want.FN, want.Tel = "Alice L.", ""
		got = protocol.Profile{}
		_ = json.Unmarshal(do(t, bob, "profile.get", map[string]string{"jid": "alice@localhost"}), &got)
		if got != want {
			t.Errorf("after a partial edit bob reads %+v\nwant %+v", got, want)
		}

		tests := []struct {
			op   string
			args any
			code string
		}{
			{"profile.set", map[string]any{"fn": 5}, "bad-request"},
			{"profile.set", map[string]any{"fn": "nul\x00byte"}, "bad-request"},
			{"profile.set", map[string]any{"note": strings.Repeat("x", 5000)}, "bad-request"},
			{"profile.set", map[string]any{"jid": "bob@localhost", "fn": "Mallory"}, "forbidden"},
			{"profile.get", map[string]any{"jid": "@@"}, "bad-request"},
		}
		for _, tt := range tests {
			if resp := alice.Do(ctx, req(tt.op, tt.args)); resp.OK || resp.Error.Code != tt.code {
				t.Errorf("%s %v = %+v, want %q", tt.op, tt.args, resp, tt.code)
			}
		}
		got = protocol.Profile{}
		_ = json.Unmarshal(do(t, alice, "profile.get", nil), &got)
		if got != want {
			t.Errorf("refused edits changed the profile: %+v", got)
		}
	})
}

// testPNG returns a small PNG image, different for each seed.
func testPNG(t *testing.T, seed uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = seed + uint8(i)
	}
	img.Set(0, 0, color.RGBA{R: seed, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha1Hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

func avatarEvent(jid, hash string) func(json.RawMessage) bool {
	return func(d json.RawMessage) bool { return field(d, "jid") == jid && field(d, "hash") == hash }
}

// getAvatar runs avatar.get and decodes the image.
func getAvatar(t *testing.T, e *engine.Engine, args map[string]string) (protocol.AvatarData, []byte) {
	t.Helper()
	var a protocol.AvatarData
	_ = json.Unmarshal(do(t, e, "avatar.get", args), &a)
	b, err := base64.StdEncoding.DecodeString(a.Data)
	if err != nil {
		t.Fatalf("avatar.get data: %v", err)
	}
	return a, b
}

// TestAvatar sets an avatar on both servers and checks that a contact hears of it (event,
// snapshot, at its next login too), gets the same bytes, that XEP-0153 clients find it in the
// vCard, that a profile edit keeps it, that removing it is heard, and that a second get is
// served from the store with the server down.
func TestAvatar(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, x *testenv.Server) {
		s := friendsOn(t, x)
		alice, aliceTab := login(t, s, "alice", "desk")
		bobStore := storage.NewMemory()
		bobTab := newRecorder()
		bob := engine.New(engine.Config{RelayURL: s.relay, Emit: bobTab.emit, Store: bobStore})
		t.Cleanup(bob.Close)
		do(t, bob, "session.login", map[string]string{"jid": "bob@localhost", "password": "bob-pw", "resource": "laptop"})
		bobTab.waitEvent(t, "presence", func(d json.RawMessage) bool { return field(d, "jid") == "alice@localhost/desk" })

		img := testPNG(t, 1)
		hash := sha1Hex(img)
		res := do(t, alice, "avatar.set", map[string]string{"type": "image/png", "data": base64.StdEncoding.EncodeToString(img)})
		if field(res, "hash") != hash {
			t.Fatalf("avatar.set = %s, want hash %s", res, hash)
		}
		aliceTab.waitEvent(t, "avatar", avatarEvent("alice@localhost", hash))
		bobTab.waitEvent(t, "avatar", avatarEvent("alice@localhost", hash))
		if got := bob.Snapshot().Avatars["alice@localhost"]; got != hash {
			t.Errorf("bob's snapshot avatar of alice = %q", got)
		}
		a, b := getAvatar(t, bob, map[string]string{"jid": "alice@localhost"})
		if !bytes.Equal(b, img) || a.Type != "image/png" || a.Hash != hash {
			t.Fatalf("bob got %s %s %d bytes, want the %d bytes alice set", a.Type, a.Hash, len(b), len(img))
		}

		// Another client of bob's hears of it at login (presence, or PEP notification).
		_, bob2Tab := login(t, s, "bob", "phone")
		bob2Tab.waitEvent(t, "avatar", avatarEvent("alice@localhost", hash))

		// XEP-0153 clients find it in the vCard (put there by us or by the server, XEP-0398),
		// and a profile edit keeps it.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		checkPhoto := func(when string) {
			t.Helper()
			typ, b64, err := bob.VCardPhoto(ctx, "alice@localhost")
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			photo, _ := base64.StdEncoding.DecodeString(b64)
			if typ != "image/png" || !bytes.Equal(photo, img) {
				t.Errorf("%s: vCard photo is %q with %d bytes, want the avatar", when, typ, len(photo))
			}
		}
		checkPhoto("after avatar.set")
		do(t, alice, "profile.set", map[string]string{"fn": "Alice"})
		checkPhoto("after profile.set")

		// Removal is heard; setting it again too.
		do(t, alice, "avatar.set", map[string]string{})
		bobTab.waitEvent(t, "avatar", avatarEvent("alice@localhost", ""))
		if got, ok := bob.Snapshot().Avatars["alice@localhost"]; ok {
			t.Errorf("removed avatar still in bob's snapshot: %q", got)
		}
		n := bobTab.count("avatar", avatarEvent("alice@localhost", hash))
		do(t, alice, "avatar.set", map[string]string{"data": base64.StdEncoding.EncodeToString(img)})
		bobTab.waitEvent(t, "avatar", func(d json.RawMessage) bool {
			return avatarEvent("alice@localhost", hash)(d) && bobTab.count("avatar", avatarEvent("alice@localhost", hash)) > n
		})

		// With the server gone, the stored copy still answers, by JID and by hash; an engine
		// without it cannot.
		x.Stop(t)
		for _, args := range []map[string]string{{"jid": "alice@localhost"}, {"hash": hash}} {
			if a, b := getAvatar(t, bob, args); !bytes.Equal(b, img) || a.Type != "image/png" {
				t.Errorf("cached avatar.get %v = %s with %d bytes", args, a.Type, len(b))
			}
		}
		if _, ok, _ := bobStore.Get(ctx, "avatar/"+hash); !ok {
			t.Error("avatar not in bob's store")
		}
		other := engine.New(engine.Config{RelayURL: s.relay})
		if resp := other.Do(ctx, req("avatar.get", map[string]string{"hash": hash})); resp.OK {
			t.Error("an engine without the cache served the avatar")
		}
	})
}

// rawIQ sends an IQ from a raw client and returns the answer as XML.
func rawIQ(t *testing.T, sess *xmpp.Session, iq string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := sess.SendIQ(ctx, xml.NewDecoder(strings.NewReader(iq)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	if _, err := xmlstream.Copy(enc, resp); err != nil {
		t.Fatal(err)
	}
	_ = enc.Flush()
	return buf.String()
}

// publishRaw publishes avatar data under id and metadata claiming typ and size, as a careless
// or hostile client could.
func publishRaw(t *testing.T, sess *xmpp.Session, id string, data []byte, typ string, size int) {
	t.Helper()
	for _, iq := range []string{
		fmt.Sprintf(`<iq xmlns="jabber:client" type="set" id="d%s"><pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="urn:xmpp:avatar:data"><item id="%s"><data xmlns="urn:xmpp:avatar:data">%s</data></item></publish></pubsub></iq>`,
			id, id, base64.StdEncoding.EncodeToString(data)),
		fmt.Sprintf(`<iq xmlns="jabber:client" type="set" id="m%s"><pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="urn:xmpp:avatar:metadata"><item id="%s"><metadata xmlns="urn:xmpp:avatar:metadata"><info id="%s" bytes="%d" type="%s"/></metadata></item></publish></pubsub></iq>`,
			id, id, id, size, typ),
	} {
		if out := rawIQ(t, sess, iq); !strings.Contains(out, `type="result"`) {
			t.Fatalf("publish refused: %s", out)
		}
	}
}

// TestAvatarRefused checks that a contact's XEP-0084 publish is heard from its notification
// alone, and that avatars from the network that are too large, not an accepted image, or not
// what their hash says are refused with an error event, and never cached.
func TestAvatarRefused(t *testing.T) {
	s := startFriends(t, testenv.ProsodyOptions{})
	raw := rawClient(t, s, "alice")
	bob, bobTab := login(t, s, "bob", "laptop")

	// A publish from a client that sends no presence reaches bob as a PEP notification.
	good := testPNG(t, 9)
	publishRaw(t, raw, sha1Hex(good), good, "image/png", len(good))
	bobTab.waitEvent(t, "avatar", avatarEvent("alice@localhost", sha1Hex(good)))
	if _, b := getAvatar(t, bob, map[string]string{"jid": "alice@localhost"}); !bytes.Equal(b, good) {
		t.Fatalf("avatar.get after a notification returned %d bytes, want %d", len(b), len(good))
	}

	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)
	img := testPNG(t, 7)
	tests := []struct {
		name string
		id   string
		data []byte
		typ  string
		size int
		want string
	}{
		{"svg", sha1Hex(svg), svg, "image/svg+xml", len(svg), "type"},
		{"svg called png", sha1Hex(svg), svg, "image/png", len(svg), "not a PNG"},
		{"wrong hash", sha1Hex([]byte("another picture")), img, "image/png", len(img), "does not match"},
		{"too large", sha1Hex(img), img, "image/png", 300 << 10, "over the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			publishRaw(t, raw, tt.id, tt.data, tt.typ, tt.size)
			resp := bob.Do(context.Background(), req("avatar.get", map[string]string{"jid": "alice@localhost", "hash": tt.id}))
			if resp.OK || resp.Error.Code != "not-acceptable" || !strings.Contains(resp.Error.Message, tt.want) {
				t.Fatalf("avatar.get = %+v, want not-acceptable saying %q", resp, tt.want)
			}
			bobTab.waitEvent(t, "error", func(d json.RawMessage) bool {
				return field(d, "code") == "not-acceptable" && strings.Contains(field(d, "message"), tt.want)
			})
			if resp := bob.Do(context.Background(), req("avatar.get", map[string]string{"hash": tt.id})); resp.OK {
				t.Errorf("refused avatar was cached: %+v", resp)
			}
		})
	}
}

// TestAvatarSetInput checks the avatars a tab may set; each is refused before any network use.
func TestAvatarSetInput(t *testing.T) {
	e := engine.New(engine.Config{RelayURL: "http://127.0.0.1:1"})
	img := testPNG(t, 3)
	b64 := base64.StdEncoding.EncodeToString
	huge := append(append([]byte{}, img...), make([]byte, 256<<10)...)
	tests := []struct {
		name, op string
		args     any
		code     string
	}{
		{"too large", "avatar.set", map[string]string{"data": b64(huge)}, "not-acceptable"},
		{"svg", "avatar.set", map[string]string{"type": "image/svg+xml", "data": b64([]byte("<svg/>"))}, "bad-request"},
		{"wrong type", "avatar.set", map[string]string{"type": "image/jpeg", "data": b64(img)}, "bad-request"},
		{"not base64", "avatar.set", map[string]string{"data": "not base64!"}, "bad-request"},
		{"type alone", "avatar.set", map[string]string{"type": "image/png"}, "bad-request"},
		{"good but offline", "avatar.set", map[string]string{"data": b64(img)}, "not-connected"},
		{"get nothing", "avatar.get", map[string]string{}, "bad-request"},
		{"get bad hash", "avatar.get", map[string]string{"hash": "xyz"}, "bad-request"},
		{"get unknown hash", "avatar.get", map[string]string{"hash": sha1Hex(img)}, "item-not-found"},
		{"get bad jid", "avatar.get", map[string]string{"jid": "@@"}, "bad-request"},
		{"block nobody", "block.add", map[string]any{"jids": []string{}}, "bad-request"},
		{"block bad jid", "block.add", map[string]any{"jids": []string{"a@b@c"}}, "bad-request"},
		{"block not a list", "block.add", map[string]any{"jids": "bob@localhost"}, "bad-request"},
		{"unblock bad jid", "block.remove", map[string]any{"jids": []string{""}}, "bad-request"},
		{"block offline", "block.add", map[string]any{"jids": []string{"bob@localhost"}}, "not-connected"},
		{"profile offline", "profile.get", nil, "not-connected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.Do(context.Background(), req(tt.op, tt.args))
			if resp.OK || resp.Error.Code != tt.code {
				t.Errorf("%s = %+v, want %q", tt.op, resp, tt.code)
			}
			if tt.code == "not-acceptable" && !strings.Contains(resp.Error.Message, "262144") {
				t.Errorf("the error does not name the limit: %s", resp.Error.Message)
			}
		})
	}
}

func blocklistIs(items ...string) func(json.RawMessage) bool {
	return func(d json.RawMessage) bool {
		var b protocol.Blocklist
		_ = json.Unmarshal(d, &b)
		return strings.Join(b.Items, ",") == strings.Join(items, ",")
	}
}

// TestBlocking blocks and unblocks on both servers: every client of the account hears of it,
// a client logging in later gets the list, and the server drops what a blocked contact sends.
func TestBlocking(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, x *testenv.Server) {
		s := friendsOn(t, x)
		desk, deskTab := login(t, s, "alice", "desk")
		_, phoneTab := login(t, s, "alice", "phone")
		bob, bobTab := login(t, s, "bob", "laptop")
		deskTab.waitEvent(t, "blocklist", blocklistIs())

		do(t, bob, "chat.send", map[string]string{"to": "alice@localhost", "body": "before"})
		deskTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "body") == "before" })

		do(t, desk, "block.add", map[string]any{"jids": []string{"bob@localhost", "spam.example"}})
		deskTab.waitEvent(t, "blocklist", blocklistIs("bob@localhost", "spam.example"))
		phoneTab.waitEvent(t, "blocklist", blocklistIs("bob@localhost", "spam.example"))
		if got := desk.Snapshot().Blocked; strings.Join(got, ",") != "bob@localhost,spam.example" {
			t.Errorf("snapshot blocked = %v", got)
		}
		tablet, tabletTab := login(t, s, "alice", "tablet")
		tabletTab.waitEvent(t, "blocklist", blocklistIs("bob@localhost", "spam.example"))
		var list protocol.Blocklist
		_ = json.Unmarshal(do(t, tablet, "block.list", nil), &list)
		if strings.Join(list.Items, ",") != "bob@localhost,spam.example" {
			t.Errorf("block.list = %v", list.Items)
		}

		// Sent, not just queued, before the unblock: the server has seen it (and dropped it or
		// bounced it) by then.
		do(t, bob, "chat.send", map[string]string{"to": "alice@localhost", "body": "while blocked"})
		bobTab.waitEvent(t, "message", func(d json.RawMessage) bool {
			return field(d, "body") == "while blocked" && (pastPending(d) || field(d, "state") == "error")
		})
		do(t, desk, "block.remove", map[string]any{"jids": []string{"spam.example"}})
		phoneTab.waitEvent(t, "blocklist", blocklistIs("bob@localhost"))
		do(t, desk, "block.remove", map[string]any{})
		deskTab.waitEvent(t, "blocklist", blocklistIs())
		phoneTab.waitEvent(t, "blocklist", blocklistIs())

		// Once unblocked, bob's messages arrive again: the one sent while blocked, sent
		// before, would have come first.
		do(t, bob, "chat.send", map[string]string{"to": "alice@localhost", "body": "after"})
		deskTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "body") == "after" })
		phoneTab.waitEvent(t, "message", func(d json.RawMessage) bool { return field(d, "body") == "after" })
		for name, tab := range map[string]*recorder{"desk": deskTab, "phone": phoneTab, "tablet": tabletTab} {
			if n := tab.count("message", func(d json.RawMessage) bool { return field(d, "body") == "while blocked" }); n != 0 {
				t.Errorf("%s received a message from a blocked contact", name)
			}
		}
	})
}
