package engine

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"slices"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/dataform"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// User search (XEP-0055): find the directory service, get its form, search. Services answer
// with a data form (ejabberd's vjud) or, in the legacy protocol, with fixed fields (first, last,
// nick, email); tabs see both through the same ops.

const nsSearch = "jabber:iq:search"

// legacySearchFields are the fields of the legacy protocol, in the order tabs show them.
var (
	legacySearchFields = []string{"first", "last", "nick", "email"}
	legacySearchLabels = []string{"First name", "Last name", "Nickname", "Email"}
)

// svcItem is one disco#items entry, as found by the service helpers of this file and commands.go.
type svcItem struct {
	JID  string
	Node string
	Name string
}

// svcItems asks to for its disco#items (XEP-0030) at node.
func (e *Engine) svcItems(ctx context.Context, what string, to jid.JID, node string) ([]svcItem, error) {
	var resp struct {
		Items []struct {
			JID  string `xml:"jid,attr"`
			Node string `xml:"node,attr"`
			Name string `xml:"name,attr"`
		} `xml:"http://jabber.org/protocol/disco#items item"`
	}
	var attrs []xml.Attr
	if node != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "node"}, Value: node})
	}
	q := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "http://jabber.org/protocol/disco#items", Local: "query"}, Attr: attrs})
	if err := e.sendIQ(ctx, what, stanza.GetIQ, to, q, &resp); err != nil {
		return nil, err
	}
	out := make([]svcItem, 0, len(resp.Items))
	for _, it := range resp.Items {
		out = append(out, svcItem(it))
	}
	return out, nil
}

// svcIsDirectory asks to for its disco#info and reports whether it is a user directory.
func (e *Engine) svcIsDirectory(ctx context.Context, to jid.JID) bool {
	var resp struct {
		Identities []struct {
			Category string `xml:"category,attr"`
			Type     string `xml:"type,attr"`
		} `xml:"http://jabber.org/protocol/disco#info identity"`
		Features []struct {
			Var string `xml:"var,attr"`
		} `xml:"http://jabber.org/protocol/disco#info feature"`
	}
	q := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "http://jabber.org/protocol/disco#info", Local: "query"}})
	if err := e.sendIQ(ctx, "discover "+to.String(), stanza.GetIQ, to, q, &resp); err != nil {
		return false
	}
	for _, id := range resp.Identities {
		if id.Category == "directory" && id.Type == "user" {
			return true
		}
	}
	for _, f := range resp.Features {
		if f.Var == nsSearch {
			return true
		}
	}
	return false
}

// searchService is the given service, or the first user directory among our server's items.
func (e *Engine) searchService(ctx context.Context, s string) (jid.JID, error) {
	if s != "" {
		j, err := jidArg(s)
		if err != nil {
			return jid.JID{}, err
		}
		return j, nil
	}
	sess, err := e.online()
	if err != nil {
		return jid.JID{}, err
	}
	server := sess.LocalAddr().Domain()
	items, err := e.svcItems(ctx, "list services", server, "")
	if err != nil {
		return jid.JID{}, err
	}
	for _, it := range items {
		if it.Node != "" {
			continue
		}
		if j, err := jid.Parse(it.JID); err == nil && e.svcIsDirectory(ctx, j) {
			return j, nil
		}
	}
	return jid.JID{}, protocol.Errorf("item-not-found", "%s offers no user search", server)
}

// searchQuery is a <query xmlns='jabber:iq:search'/> answer: a form, legacy fields, or results.
type searchQuery struct {
	Instructions string         `xml:"instructions"`
	First        *struct{}      `xml:"first"`
	Last         *struct{}      `xml:"last"`
	Nick         *struct{}      `xml:"nick"`
	Email        *struct{}      `xml:"email"`
	Form         *dataform.Form `xml:"jabber:x:data x"`
	Items        []struct {
		JID   string `xml:"jid,attr"`
		First string `xml:"first"`
		Last  string `xml:"last"`
		Nick  string `xml:"nick"`
		Email string `xml:"email"`
	} `xml:"item"`
}

// legacyFields lists the legacy fields the service asked for.
func (q searchQuery) legacyFields() []string {
	var out []string
	for i, p := range []*struct{}{q.First, q.Last, q.Nick, q.Email} {
		if p != nil {
			out = append(out, legacySearchFields[i])
		}
	}
	return out
}

// SearchForm is the result of search.form: Form when the service uses data forms, else the
// legacy Fields with Instructions.
type SearchForm struct {
	Service      string         `json:"service"`
	Form         *protocol.Form `json:"form,omitempty"`
	Fields       []string       `json:"fields,omitempty"`
	Instructions string         `json:"instructions,omitempty"`
}

// SearchColumn is one column of search results.
type SearchColumn struct {
	Var   string `json:"var"`
	Label string `json:"label"`
}

// SearchResult is the result of search.query: one map of column var to value per user found.
type SearchResult struct {
	Columns []SearchColumn      `json:"columns"`
	Items   []map[string]string `json:"items"`
}

func (e *Engine) fetchSearchForm(ctx context.Context, service jid.JID) (searchQuery, error) {
	var q searchQuery
	err := e.sendIQ(ctx, "get search form", stanza.GetIQ, service, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: nsSearch, Local: "query"}}), &q)
	if err == nil && q.Form != nil {
		err = q.Form.Check()
	}
	return q, err
}

func (e *Engine) opSearchForm(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Service string `json:"service"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	service, err := e.searchService(ctx, args.Service)
	if err != nil {
		return nil, err
	}
	q, err := e.fetchSearchForm(ctx, service)
	if err != nil {
		return nil, err
	}
	out := SearchForm{Service: service.String(), Instructions: q.Instructions}
	if q.Form != nil {
		f := q.Form.JSON()
		out.Form = &f
	} else {
		out.Fields = q.legacyFields()
	}
	return out, nil
}

func (e *Engine) opSearchQuery(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Service string              `json:"service"`
		Values  map[string][]string `json:"values"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	if len(args.Values) == 0 {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "values required")
	}
	service, err := e.searchService(ctx, args.Service)
	if err != nil {
		return nil, err
	}
	// The form is fetched again rather than remembered: the submit must match what the
	// service asks for now, hidden fields included.
	form, err := e.fetchSearchForm(ctx, service)
	if err != nil {
		return nil, err
	}
	var payload []xml.TokenReader
	if form.Form != nil {
		sub, err := dataform.Submit(form.Form, args.Values)
		if err != nil {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "search form: %v", err)
		}
		payload = append(payload, sub.TokenReader())
	} else {
		allowed := form.legacyFields()
		for k, v := range args.Values {
			if !slices.Contains(allowed, k) {
				return nil, protocol.Errorf(protocol.CodeBadRequest, "field %q: not a field of this search (%v)", k, allowed)
			}
			if len(v) > 1 {
				return nil, protocol.Errorf(protocol.CodeBadRequest, "field %q takes one value", k)
			}
		}
		for _, k := range allowed {
			if v := args.Values[k]; len(v) == 1 {
				payload = append(payload, textElement(k, v[0]))
			}
		}
	}
	var res searchQuery
	err = e.sendIQ(ctx, "search", stanza.SetIQ, service, xmlstream.Wrap(xmlstream.MultiReader(payload...), xml.StartElement{Name: xml.Name{Space: nsSearch, Local: "query"}}), &res)
	if err != nil {
		return nil, err
	}
	if res.Form != nil {
		if err := res.Form.Check(); err != nil {
			return nil, protocol.Errorf(protocol.CodeInternal, "search results: %v", err)
		}
		cols, rows := res.Form.ReportedJSON()
		out := SearchResult{Columns: make([]SearchColumn, 0, len(cols)), Items: rows}
		for _, c := range cols {
			out.Columns = append(out.Columns, SearchColumn{Var: c.Var, Label: c.Label})
		}
		return out, nil
	}
	out := SearchResult{Columns: []SearchColumn{{Var: "jid", Label: "JID"}}, Items: make([]map[string]string, 0, len(res.Items))}
	for i, k := range legacySearchFields {
		out.Columns = append(out.Columns, SearchColumn{Var: k, Label: legacySearchLabels[i]})
	}
	for _, it := range res.Items {
		out.Items = append(out.Items, map[string]string{"jid": it.JID, "first": it.First, "last": it.Last, "nick": it.Nick, "email": it.Email})
	}
	return out, nil
}
