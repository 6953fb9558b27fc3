// Package dataform reads and writes XEP-0004 data forms: it decodes a form a service sent,
// turns it into the JSON protocol.Form tabs see, and builds the submit form from a tab's
// {var: [values]}, checking the values against the field types first.
//
// It is our own rather than mellium.im/xmpp/form because tabs need every field in order with
// all its values, options and types as sent (unknown types included), and the submit must be
// built from plain strings with the form's hidden fields (FORM_TYPE, session state) kept as the
// service sent them; mellium's Data hides values behind typed getters.
package dataform

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strings"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// NS is the data forms namespace.
const NS = "jabber:x:data"

// Form types (XEP-0004 §3.1).
const (
	TypeForm   = "form"
	TypeSubmit = "submit"
	TypeCancel = "cancel"
	TypeResult = "result"
)

// Field types (XEP-0004 §3.3). A field without a type is text-single.
const (
	Boolean     = "boolean"
	Fixed       = "fixed"
	Hidden      = "hidden"
	JIDMulti    = "jid-multi"
	JIDSingle   = "jid-single"
	ListMulti   = "list-multi"
	ListSingle  = "list-single"
	TextMulti   = "text-multi"
	TextPrivate = "text-private"
	TextSingle  = "text-single"
)

// Limits on what is decoded or submitted: a form is a few dozen fields, not a document.
const (
	maxFields = 500
	maxItems  = 10000 // rows of a search result
	maxValues = 1000
	maxValue  = 64 << 10
)

// Form is a <x xmlns='jabber:x:data'/> element. Result forms of a search carry Reported (the
// column definitions) and Items (one row each).
type Form struct {
	XMLName      xml.Name `xml:"jabber:x:data x"`
	Type         string   `xml:"type,attr"`
	Title        string   `xml:"title,omitempty"`
	Instructions []string `xml:"instructions,omitempty"`
	Fields       []Field  `xml:"field"`
	Reported     *Row     `xml:"reported"`
	Items        []Row    `xml:"item"`
}

// Row is a <reported/> or <item/> of a result form: a list of fields.
type Row struct {
	Fields []Field `xml:"field"`
}

// Field is one <field/>.
type Field struct {
	Var      string    `xml:"var,attr,omitempty"`
	Type     string    `xml:"type,attr,omitempty"`
	Label    string    `xml:"label,attr,omitempty"`
	Desc     string    `xml:"desc,omitempty"`
	Required *struct{} `xml:"required"`
	Values   []string  `xml:"value"`
	Options  []Option  `xml:"option"`
}

// Option is one choice of a list field.
type Option struct {
	Label string `xml:"label,attr,omitempty"`
	Value string `xml:"value"`
}

// Kind is the field's type, text-single when the service left it out.
func (f Field) Kind() string {
	if f.Type == "" {
		return TextSingle
	}
	return f.Type
}

// Parse decodes a form from its XML. A payload struct can instead hold the form as a field
// tagged `xml:"jabber:x:data x"` and call Check on it.
func Parse(b []byte) (*Form, error) {
	var f Form
	if err := xml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("data form: %w", err)
	}
	if err := f.Check(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Check rejects a decoded form too large to be a real one.
func (f *Form) Check() error {
	if len(f.Fields) > maxFields {
		return fmt.Errorf("data form: %d fields, at most %d", len(f.Fields), maxFields)
	}
	if len(f.Items) > maxItems {
		return fmt.Errorf("data form: %d items, at most %d", len(f.Items), maxItems)
	}
	return nil
}

// Field returns the field named v, or nil.
func (f *Form) Field(v string) *Field {
	for i := range f.Fields {
		if f.Fields[i].Var == v {
			return &f.Fields[i]
		}
	}
	return nil
}

// FormType is the value of the hidden FORM_TYPE field, "" when there is none.
func (f *Form) FormType() string {
	if fd := f.Field("FORM_TYPE"); fd != nil && len(fd.Values) > 0 {
		return fd.Values[0]
	}
	return ""
}

// JSON converts the form to what tabs see.
func (f *Form) JSON() protocol.Form {
	out := protocol.Form{Type: f.Type, Title: f.Title, Instructions: strings.Join(f.Instructions, "\n"), Fields: fieldsJSON(f.Fields)}
	if out.Type == "" {
		out.Type = TypeForm
	}
	return out
}

func fieldsJSON(fields []Field) []protocol.FormField {
	out := make([]protocol.FormField, 0, len(fields))
	for _, fd := range fields {
		jf := protocol.FormField{
			Var: fd.Var, Type: fd.Kind(), Label: fd.Label, Desc: fd.Desc,
			Required: fd.Required != nil, Values: fd.Values,
		}
		if jf.Values == nil {
			jf.Values = []string{}
		}
		for _, o := range fd.Options {
			jf.Options = append(jf.Options, protocol.FormOption{Label: o.Label, Value: o.Value})
		}
		out = append(out, jf)
	}
	return out
}

// ReportedJSON returns the columns and rows of a result form: each column's var and label,
// and one map of var to value per item (multiple values joined by newlines).
func (f *Form) ReportedJSON() (columns []protocol.FormField, rows []map[string]string) {
	if f.Reported != nil {
		columns = fieldsJSON(f.Reported.Fields)
	}
	rows = make([]map[string]string, 0, len(f.Items))
	for _, it := range f.Items {
		row := make(map[string]string, len(it.Fields))
		for _, fd := range it.Fields {
			row[fd.Var] = strings.Join(fd.Values, "\n")
		}
		rows = append(rows, row)
	}
	return columns, rows
}

// ValidationError says which submitted value the form does not accept, and why.
type ValidationError struct {
	Var    string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("field %q: %s", e.Var, e.Reason)
}

// Submit builds the submit form answering f with values, after checking them against f's
// fields: every var must be one of f's (a nil f accepts any), single-valued fields take at
// most one value, booleans are 0, 1, true or false, JIDs parse, list values are among the
// options, and required fields have a value. Fields left out keep the form's default values;
// hidden fields are always sent back as the service set them; fixed fields are never sent.
func Submit(f *Form, values map[string][]string) (*Form, error) {
	if len(values) > maxFields {
		return nil, &ValidationError{Reason: fmt.Sprintf("%d fields, at most %d", len(values), maxFields)}
	}
	out := &Form{Type: TypeSubmit}
	if f == nil {
		// No form to check against (a service that sends none): submit in a stable order.
		vars := make([]string, 0, len(values))
		for v := range values {
			vars = append(vars, v)
		}
		slices.Sort(vars)
		for _, v := range vars {
			if err := checkValues(Field{Var: v, Type: TextMulti}, values[v]); err != nil {
				return nil, err
			}
			out.Fields = append(out.Fields, Field{Var: v, Values: values[v]})
		}
		return out, nil
	}
	for v := range values {
		fd := f.Field(v)
		switch {
		case v == "":
			return nil, &ValidationError{Var: v, Reason: "no field has an empty name"}
		case fd == nil:
			return nil, &ValidationError{Var: v, Reason: "not a field of this form"}
		case fd.Kind() == Fixed:
			return nil, &ValidationError{Var: v, Reason: "a fixed field cannot be submitted"}
		case fd.Kind() == Hidden:
			return nil, &ValidationError{Var: v, Reason: "a hidden field is sent back as the service set it"}
		}
	}
	for _, fd := range f.Fields {
		if fd.Var == "" || fd.Kind() == Fixed {
			continue
		}
		vals, given := values[fd.Var]
		if !given {
			vals = fd.Values
		}
		vals, err := normalize(fd, vals)
		if err != nil {
			return nil, err
		}
		if fd.Required != nil && (len(vals) == 0 || len(vals) == 1 && vals[0] == "") {
			return nil, &ValidationError{Var: fd.Var, Reason: "required"}
		}
		if !given && len(vals) == 0 {
			continue
		}
		// The type goes along: some services (Prosody's ad-hoc) need it to read the value.
		out.Fields = append(out.Fields, Field{Var: fd.Var, Type: fd.Type, Values: vals})
	}
	return out, nil
}

// normalize checks vals against fd's type and returns them as sent on the wire.
func normalize(fd Field, vals []string) ([]string, error) {
	if err := checkValues(fd, vals); err != nil {
		return nil, err
	}
	kind := fd.Kind()
	switch kind {
	case Boolean, TextSingle, TextPrivate, ListSingle, JIDSingle, Hidden:
		if len(vals) > 1 {
			return nil, &ValidationError{Var: fd.Var, Reason: fmt.Sprintf("%s takes one value, got %d", kind, len(vals))}
		}
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		switch kind {
		case Boolean:
			switch v {
			case "1", "true":
				v = "1"
			case "0", "false", "":
				v = "0"
			default:
				return nil, &ValidationError{Var: fd.Var, Reason: fmt.Sprintf("boolean must be 0, 1, true or false, not %q", v)}
			}
		case JIDSingle, JIDMulti:
			if v == "" && kind == JIDSingle {
				break
			}
			j, err := jid.Parse(v)
			if err != nil {
				return nil, &ValidationError{Var: fd.Var, Reason: fmt.Sprintf("invalid JID %q", v)}
			}
			v = j.String()
		case ListSingle, ListMulti:
			// A list with no options is open; an empty single choice means none.
			if len(fd.Options) > 0 && !(v == "" && kind == ListSingle) && !slices.ContainsFunc(fd.Options, func(o Option) bool { return o.Value == v }) {
				return nil, &ValidationError{Var: fd.Var, Reason: fmt.Sprintf("%q is not one of the options", v)}
			}
		case TextSingle, TextPrivate, Hidden:
			if strings.ContainsAny(v, "\r\n") {
				return nil, &ValidationError{Var: fd.Var, Reason: "a single-line field cannot hold a line break"}
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func checkValues(fd Field, vals []string) error {
	if len(vals) > maxValues {
		return &ValidationError{Var: fd.Var, Reason: fmt.Sprintf("%d values, at most %d", len(vals), maxValues)}
	}
	for _, v := range vals {
		if len(v) > maxValue {
			return &ValidationError{Var: fd.Var, Reason: fmt.Sprintf("a value of %d bytes, at most %d", len(v), maxValue)}
		}
	}
	return nil
}

// Cancel returns a cancel form.
func Cancel() *Form { return &Form{Type: TypeCancel} }

// TokenReader encodes the form for sending, e.g. as the payload of a command or search.
func (f *Form) TokenReader() xml.TokenReader {
	var fields []xml.TokenReader
	for _, fd := range f.Fields {
		var inner []xml.TokenReader
		for _, v := range fd.Values {
			inner = append(inner, text("value", v))
		}
		var attrs []xml.Attr
		if fd.Var != "" {
			attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "var"}, Value: fd.Var})
		}
		if fd.Type != "" {
			attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "type"}, Value: fd.Type})
		}
		fields = append(fields, xmlstream.Wrap(xmlstream.MultiReader(inner...), xml.StartElement{Name: xml.Name{Local: "field"}, Attr: attrs}))
	}
	typ := f.Type
	if typ == "" {
		typ = TypeSubmit
	}
	return xmlstream.Wrap(xmlstream.MultiReader(fields...), xml.StartElement{
		Name: xml.Name{Space: NS, Local: "x"}, Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: typ}},
	})
}

func text(name, v string) xml.TokenReader {
	return xmlstream.Wrap(xmlstream.Token(xml.CharData(v)), xml.StartElement{Name: xml.Name{Local: name}})
}
