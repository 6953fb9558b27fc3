package dataform

import (
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"

	"mellium.im/xmlstream"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// adduser is Prosody's mod_admin_adhoc "Add User" form, as sent.
const adduser = `<x xmlns='jabber:x:data' type='form'>
<title>Adding a User</title>
<instructions>Fill out this form to add a user.</instructions>
<field type='hidden' var='FORM_TYPE'><value>http://jabber.org/protocol/admin</value></field>
<field type='jid-single' label='The Jabber ID for the account to be added' var='accountjid'><required/></field>
<field type='text-private' label='The password for this account' var='password'><required/></field>
<field type='text-private' label='Retype password' var='password-verify'><required/></field>
<field type='fixed'><value>Note</value></field>
<field type='boolean' var='notify' label='Notify'><value>1</value></field>
<field type='list-single' var='lang' label='Language'><value>en</value><option label='English'><value>en</value></option><option label='Deutsch'><value>de</value></option></field>
<field type='list-multi' var='groups'><option><value>a</value></option><option><value>b</value></option></field>
<field var='untyped'/>
</x>`

func mustParse(t testing.TB, s string) *Form {
	t.Helper()
	f, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestJSON(t *testing.T) {
	f := mustParse(t, adduser)
	got := f.JSON()
	if got.Type != "form" || got.Title != "Adding a User" || got.Instructions != "Fill out this form to add a user." {
		t.Fatalf("header: %+v", got)
	}
	if f.FormType() != "http://jabber.org/protocol/admin" {
		t.Errorf("FORM_TYPE = %q", f.FormType())
	}
	want := map[string]protocol.FormField{
		"accountjid": {Var: "accountjid", Type: "jid-single", Label: "The Jabber ID for the account to be added", Required: true, Values: []string{}},
		"lang": {Var: "lang", Type: "list-single", Label: "Language", Values: []string{"en"},
			Options: []protocol.FormOption{{Label: "English", Value: "en"}, {Label: "Deutsch", Value: "de"}}},
		"untyped": {Var: "untyped", Type: "text-single", Values: []string{}},
		"":        {Type: "fixed", Values: []string{"Note"}},
	}
	if len(got.Fields) != 9 {
		t.Fatalf("%d fields, want 9", len(got.Fields))
	}
	for _, fd := range got.Fields {
		if w, ok := want[fd.Var]; ok && !reflect.DeepEqual(fd, w) {
			t.Errorf("field %q:\n got %+v\nwant %+v", fd.Var, fd, w)
		}
	}
}

func TestSubmit(t *testing.T) {
	f := mustParse(t, adduser)
	base := func() map[string][]string {
		return map[string][]string{"accountjid": {"u@example.org"}, "password": {"p"}, "password-verify": {"p"}}
	}
	with := func(k string, v ...string) map[string][]string {
		m := base()
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		values  map[string][]string
		badVar  string            // "" = accepted
		want    map[string]string // var → values joined by "|", checked when accepted
		missing []string          // vars that must not be submitted
	}{
		{name: "defaults kept", values: base(), want: map[string]string{
			"FORM_TYPE": "http://jabber.org/protocol/admin", "accountjid": "u@example.org", "notify": "1", "lang": "en",
		}, missing: []string{"", "groups", "untyped"}},
		{name: "required missing", values: with("password"), badVar: "password"},
		{name: "required empty", values: with("password", ""), badVar: "password"},
		{name: "unknown var", values: with("nope", "x"), badVar: "nope"},
		{name: "hidden overridden", values: with("FORM_TYPE", "x"), badVar: "FORM_TYPE"},
		{name: "bad jid", values: with("accountjid", "a@b@c"), badVar: "accountjid"},
		{name: "jid normalised", values: with("accountjid", "U@Example.ORG"), want: map[string]string{"accountjid": "u@example.org"}},
		{name: "two values in single", values: with("accountjid", "a@b", "c@d"), badVar: "accountjid"},
		{name: "boolean true", values: with("notify", "true"), want: map[string]string{"notify": "1"}},
		{name: "boolean false", values: with("notify", "false"), want: map[string]string{"notify": "0"}},
		{name: "boolean junk", values: with("notify", "yes"), badVar: "notify"},
		{name: "option ok", values: with("lang", "de"), want: map[string]string{"lang": "de"}},
		{name: "option unknown", values: with("lang", "fr"), badVar: "lang"},
		{name: "multi options", values: with("groups", "a", "b"), want: map[string]string{"groups": "a|b"}},
		{name: "multi option unknown", values: with("groups", "a", "c"), badVar: "groups"},
		{name: "line break in single", values: with("password", "a\nb"), badVar: "password"},
		{name: "huge value", values: with("untyped", strings.Repeat("x", maxValue+1)), badVar: "untyped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Submit(f, tt.values)
			if tt.badVar != "" {
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Var != tt.badVar {
					t.Fatalf("err = %v, want a validation error on %q", err, tt.badVar)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != TypeSubmit {
				t.Errorf("type %q", got.Type)
			}
			for v, w := range tt.want {
				fd := got.Field(v)
				if fd == nil || strings.Join(fd.Values, "|") != w {
					t.Errorf("%s = %+v, want %q", v, fd, w)
				}
			}
			for _, v := range tt.missing {
				if got.Field(v) != nil {
					t.Errorf("%q submitted", v)
				}
			}
		})
	}
}

func TestSubmitWithoutForm(t *testing.T) {
	got, err := Submit(nil, map[string][]string{"b": {"2"}, "a": {"1", "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Fields) != 2 || got.Fields[0].Var != "a" || got.Fields[1].Var != "b" {
		t.Fatalf("fields %+v", got.Fields)
	}
}

// TestEncodeRoundTrip: what TokenReader writes decodes to the same form.
func TestEncodeRoundTrip(t *testing.T) {
	sub, err := Submit(mustParse(t, adduser), map[string][]string{"accountjid": {"u@example.org"}, "password": {"<&'\">"}, "password-verify": {"x"}, "groups": {"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	e := xml.NewEncoder(&b)
	if _, err := xmlstream.Copy(e, sub.TokenReader()); err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	back := mustParse(t, b.String())
	if !reflect.DeepEqual(back.Fields, sub.Fields) || back.Type != "submit" {
		t.Fatalf("round trip:\n%s\n got %+v\nwant %+v", b.String(), back.Fields, sub.Fields)
	}
}

func TestReported(t *testing.T) {
	f := mustParse(t, `<x xmlns='jabber:x:data' type='result'>
<reported><field var='jid' label='JID'/><field var='fn' label='Full name'/></reported>
<item><field var='jid'><value>a@b</value></field><field var='fn'><value>Ann</value></field></item>
<item><field var='jid'><value>c@d</value></field></item></x>`)
	cols, rows := f.ReportedJSON()
	if len(cols) != 2 || cols[1].Label != "Full name" {
		t.Fatalf("columns %+v", cols)
	}
	if len(rows) != 2 || rows[0]["fn"] != "Ann" || rows[1]["jid"] != "c@d" {
		t.Fatalf("rows %+v", rows)
	}
}

func TestParseRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not xml":       "<x",
		"wrong element": "<y xmlns='jabber:x:data'/>",
		"wrong ns":      "<x xmlns='urn:other'/>",
		"too many":      "<x xmlns='jabber:x:data'>" + strings.Repeat("<field/>", maxFields+1) + "</x>",
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzDecode: no input makes decoding, converting or answering a form panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(adduser), "accountjid", "a@b")
	f.Add([]byte("<x xmlns='jabber:x:data' type='result'><reported><field var='a'/></reported><item/></x>"), "a", "")
	f.Add([]byte("<x xmlns='jabber:x:data'><field type='boolean' var='b'><required/></field></x>"), "b", "maybe")
	f.Fuzz(func(t *testing.T, b []byte, v, val string) {
		form, err := Parse(b)
		if err != nil {
			return
		}
		_ = form.JSON()
		_, _ = form.ReportedJSON()
		_ = form.FormType()
		sub, err := Submit(form, map[string][]string{v: {val}})
		if err != nil {
			return
		}
		e := xml.NewEncoder(&strings.Builder{})
		if _, err := xmlstream.Copy(e, sub.TokenReader()); err != nil {
			t.Fatalf("encode a valid submit: %v", err)
		}
	})
}
