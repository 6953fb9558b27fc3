package engine_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/engine"
)

// TestSearchEjabberd finds a user by name in ejabberd's directory (mod_vcard, vjud.localhost)
// after the user set a vCard: the service is discovered, its data form fetched and submitted.
// Prosody is not tested: its only search module (prosody-modules' mod_vjud) reads the old vCard
// store, which mod_vcard_legacy empties into PEP, so it can never find anyone there.
// It also runs ejabberd's own ad-hoc command (mod_adhoc's ping) as a normal user.
func TestSearchEjabberd(t *testing.T) {
	s := stackOn(t, testenv.StartEjabberd(t))
	s.prosody.AddUser(t, "alice", "alice-pw")
	s.prosody.AddUser(t, "bob", "bob-pw")
	raw := rawClient(t, s, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := raw.SendIQ(ctx, xml.NewDecoder(strings.NewReader(`<iq xmlns='jabber:client' type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Alice Liddell</FN><N><FAMILY>Liddell</FAMILY><GIVEN>Alice</GIVEN></N><NICKNAME>wonder</NICKNAME></vCard></iq>`))); err != nil {
		t.Fatal(err)
	}

	bob, _ := s.engine(t)
	do(t, bob, "session.login", map[string]string{"jid": "bob@localhost", "password": "bob-pw"})
	var form engine.SearchForm
	_ = json.Unmarshal(do(t, bob, "search.form", nil), &form)
	if form.Service != "vjud.localhost" || form.Form == nil {
		t.Fatalf("search.form = %+v", form)
	}
	vars := map[string]bool{}
	for _, f := range form.Form.Fields {
		vars[f.Var] = true
	}
	if !vars["fn"] || !vars["nick"] {
		t.Fatalf("form fields %+v", form.Form.Fields)
	}

	var res engine.SearchResult
	_ = json.Unmarshal(do(t, bob, "search.query", map[string]any{"service": form.Service, "values": map[string][]string{"fn": {"Alice Liddell"}}}), &res)
	if len(res.Items) != 1 || res.Items[0]["jid"] != "alice@localhost" || res.Items[0]["nick"] != "wonder" {
		t.Fatalf("search = %+v", res)
	}
	if len(res.Columns) == 0 {
		t.Errorf("no columns: %+v", res)
	}
	_ = json.Unmarshal(do(t, bob, "search.query", map[string]any{"values": map[string][]string{"fn": {"Nobody Here"}}}), &res)
	if len(res.Items) != 0 {
		t.Fatalf("search for nobody = %+v", res)
	}
	resp := bob.Do(context.Background(), req("search.query", map[string]any{"values": map[string][]string{"shoe-size": {"9"}}}))
	if resp.OK || resp.Error.Code != "bad-request" {
		t.Fatalf("unknown field = %+v", resp)
	}

	// ejabberd's commands differ from Prosody's: mod_adhoc offers "ping" to everyone.
	var list struct{ Items []engine.CommandItem }
	_ = json.Unmarshal(do(t, bob, "commands.list", nil), &list)
	found := false
	for _, it := range list.Items {
		found = found || it.Node == "ping"
	}
	if !found {
		t.Fatalf("ejabberd commands: %+v", list.Items)
	}
	var pong engine.CommandResult
	_ = json.Unmarshal(do(t, bob, "commands.execute", map[string]string{"node": "ping"}), &pong)
	if pong.Status != "completed" || len(pong.Notes) != 1 || pong.Notes[0].Text != "Pong" {
		t.Fatalf("ping = %+v", pong)
	}
}
