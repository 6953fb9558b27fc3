package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/engine"
)

const nodeAddUser = "http://jabber.org/protocol/admin#add-user"

// TestCommandsProsody runs Prosody's mod_admin_adhoc as the admin: the list, then "Add User"
// over two stages, after which the new account can log in; a non-admin is refused.
func TestCommandsProsody(t *testing.T) {
	s := startStack(t, testenv.ProsodyOptions{})
	s.prosody.AddUser(t, "admin", "admin-pw")
	s.prosody.AddUser(t, "bob", "bob-pw")
	admin, _ := s.engine(t)
	do(t, admin, "session.login", map[string]string{"jid": "admin@localhost", "password": "admin-pw"})

	var list struct{ Items []engine.CommandItem }
	_ = json.Unmarshal(do(t, admin, "commands.list", nil), &list)
	names := map[string]string{}
	for _, it := range list.Items {
		names[it.Node] = it.Name
		if it.JID != "localhost" {
			t.Errorf("command %q at %q", it.Node, it.JID)
		}
	}
	if names[nodeAddUser] != "Add User" || names["http://jabber.org/protocol/admin#user-stats"] != "Get User Statistics" {
		t.Fatalf("admin's commands: %+v", list.Items)
	}

	// Stage one: the form.
	var stage engine.CommandResult
	_ = json.Unmarshal(do(t, admin, "commands.execute", map[string]string{"node": nodeAddUser}), &stage)
	if stage.Status != "executing" || stage.SessionID == "" || stage.Form == nil {
		t.Fatalf("first stage = %+v", stage)
	}
	fields := map[string]string{}
	for _, f := range stage.Form.Fields {
		fields[f.Var] = f.Type
	}
	if fields["accountjid"] != "jid-single" || fields["password"] != "text-private" || fields["FORM_TYPE"] != "hidden" {
		t.Fatalf("form fields %v", fields)
	}

	// A value the form cannot take is refused before anything is sent; the session goes on.
	resp := admin.Do(context.Background(), req("commands.execute", map[string]any{
		"node": nodeAddUser, "sessionid": stage.SessionID, "values": map[string][]string{"accountjid": {"not@a@jid"}},
	}))
	if resp.OK || resp.Error.Code != "bad-request" || !strings.Contains(resp.Error.Message, "accountjid") {
		t.Fatalf("bad JID submit = %+v", resp)
	}

	// Stage two: submit.
	_ = json.Unmarshal(do(t, admin, "commands.execute", map[string]any{
		"node": nodeAddUser, "sessionid": stage.SessionID, "action": "complete",
		"values": map[string][]string{"accountjid": {"carol@localhost"}, "password": {"carol-pw"}, "password-verify": {"carol-pw"}},
	}), &stage)
	if stage.Status != "completed" || len(stage.Notes) == 0 || stage.Notes[0].Type != "info" {
		t.Fatalf("completed stage = %+v", stage)
	}
	carol, _ := s.engine(t)
	do(t, carol, "session.login", map[string]string{"jid": "carol@localhost", "password": "carol-pw"})

	// Cancel: a started command is cancelled.
	_ = json.Unmarshal(do(t, admin, "commands.execute", map[string]string{"node": nodeAddUser}), &stage)
	_ = json.Unmarshal(do(t, admin, "commands.execute", map[string]string{"node": nodeAddUser, "sessionid": stage.SessionID, "action": "cancel"}), &stage)
	if stage.Status != "canceled" {
		t.Fatalf("cancel = %+v", stage)
	}

	// Not an admin: forbidden.
	bob, _ := s.engine(t)
	do(t, bob, "session.login", map[string]string{"jid": "bob@localhost", "password": "bob-pw"})
	resp = bob.Do(context.Background(), req("commands.execute", map[string]string{"node": nodeAddUser}))
	if resp.OK || resp.Error.Code != "forbidden" {
		t.Fatalf("bob runs Add User = %+v", resp)
	}
	_ = json.Unmarshal(do(t, bob, "commands.list", nil), &list)
	for _, it := range list.Items {
		if it.Node == nodeAddUser {
			t.Errorf("bob is offered %+v", it)
		}
	}
}

// TestCommandsArgs checks bad args are refused before anything is sent.
func TestCommandsArgs(t *testing.T) {
	e := engine.New(engine.Config{RelayURL: "http://127.0.0.1:1"})
	for _, tt := range []struct {
		args any
		code string
	}{
		{map[string]string{}, "bad-request"},
		{map[string]string{"node": "x", "action": "explode"}, "bad-request"},
		{map[string]string{"node": "x", "action": "next"}, "bad-request"},
		{map[string]any{"node": "x", "values": map[string]string{"a": "not a list"}}, "bad-request"},
		{map[string]string{"node": "x"}, "not-connected"},
	} {
		resp := e.Do(context.Background(), req("commands.execute", tt.args))
		if resp.OK || resp.Error.Code != tt.code {
			t.Errorf("commands.execute %v = %+v, want %q", tt.args, resp, tt.code)
		}
	}
}
