package engine

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"slices"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/dataform"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// Ad-hoc commands (XEP-0050): list a service's commands and run them stage by stage. Each
// stage's form is kept by session id so the next submit is checked against it and carries its
// hidden fields back.

const nsCommands = "http://jabber.org/protocol/commands"

// maxCommandSessions bounds the stage forms kept for command sessions a tab never finished.
const maxCommandSessions = 32

// CommandItem is one command a service offers.
type CommandItem struct {
	JID  string `json:"jid"`
	Node string `json:"node"`
	Name string `json:"name"`
}

// CommandNote is a note of a command stage (type info, warn or error).
type CommandNote struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// CommandResult is the state of a command after a stage.
type CommandResult struct {
	JID       string `json:"jid"`
	SessionID string `json:"sessionid"`
	Node      string `json:"node"`
	// Status is executing, completed or canceled.
	Status string `json:"status"`
	// Actions the next stage may take (prev, next, complete); Default is the one "execute" means.
	Actions []string       `json:"actions"`
	Default string         `json:"default,omitempty"`
	Form    *protocol.Form `json:"form,omitempty"`
	Notes   []CommandNote  `json:"notes"`
}

// commandPayload is a <command/> as services answer it.
type commandPayload struct {
	XMLName   xml.Name `xml:"http://jabber.org/protocol/commands command"`
	Node      string   `xml:"node,attr"`
	SessionID string   `xml:"sessionid,attr"`
	Status    string   `xml:"status,attr"`
	Actions   *struct {
		Execute string `xml:"execute,attr"`
		List    []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"actions"`
	Notes []struct {
		Type string `xml:"type,attr"`
		Text string `xml:",chardata"`
	} `xml:"note"`
	Form *dataform.Form `xml:"jabber:x:data x"`
}

// commandService is the command's service: the given JID, or our server.
func (e *Engine) commandService(s string) (jid.JID, error) {
	sess, err := e.online()
	if err != nil {
		return jid.JID{}, err
	}
	if s == "" {
		return sess.LocalAddr().Domain(), nil
	}
	return jidArg(s)
}

func (e *Engine) opCommandsList(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		JID string `json:"jid"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	to, err := e.commandService(args.JID)
	if err != nil {
		return nil, err
	}
	items, err := e.svcItems(ctx, "list commands", to, nsCommands)
	if err != nil {
		return nil, err
	}
	out := make([]CommandItem, 0, len(items))
	for _, it := range items {
		out = append(out, CommandItem(it))
	}
	return map[string]any{"items": out}, nil
}

func (e *Engine) opCommandsExecute(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		JID       string              `json:"jid"`
		Node      string              `json:"node"`
		SessionID string              `json:"sessionid"`
		Action    string              `json:"action"`
		Values    map[string][]string `json:"values"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	if args.Node == "" {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "node required")
	}
	switch args.Action {
	case "", "execute", "next", "prev", "complete", "cancel":
	default:
		return nil, protocol.Errorf(protocol.CodeBadRequest, "action %q: want execute, next, prev, complete or cancel", args.Action)
	}
	if args.SessionID == "" && args.Action != "" && args.Action != "execute" {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "action %q needs a sessionid", args.Action)
	}
	to, err := e.commandService(args.JID)
	if err != nil {
		return nil, err
	}

	attrs := []xml.Attr{{Name: xml.Name{Local: "node"}, Value: args.Node}}
	if args.SessionID != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "sessionid"}, Value: args.SessionID})
	}
	if args.Action != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "action"}, Value: args.Action})
	}
	var inner xml.TokenReader
	if args.Values != nil && args.Action != "cancel" && args.Action != "prev" {
		sub, err := dataform.Submit(e.commandForm(to, args.SessionID), args.Values)
		if err != nil {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "command form: %v", err)
		}
		inner = sub.TokenReader()
	}
	var resp commandPayload
	err = e.sendIQ(ctx, "run command "+args.Node, stanza.SetIQ, to,
		xmlstream.Wrap(inner, xml.StartElement{Name: xml.Name{Space: nsCommands, Local: "command"}, Attr: attrs}), &resp)
	if err != nil {
		var perr *protocol.Error
		if args.SessionID != "" && errors.As(err, &perr) && perr.Code != protocol.CodeNotConnected {
			e.setCommandForm(to, args.SessionID, nil) // the service ended the session
		}
		return nil, err
	}
	if resp.Form != nil {
		if err := resp.Form.Check(); err != nil {
			return nil, protocol.Errorf(protocol.CodeInternal, "command %s: %v", args.Node, err)
		}
	}
	res := CommandResult{JID: to.String(), SessionID: resp.SessionID, Node: resp.Node, Status: resp.Status, Actions: []string{}, Notes: []CommandNote{}}
	if res.Node == "" {
		res.Node = args.Node
	}
	if res.Status == "" {
		res.Status = "completed"
	}
	if resp.Actions != nil {
		for _, a := range resp.Actions.List {
			if a.XMLName.Space == nsCommands && !slices.Contains(res.Actions, a.XMLName.Local) {
				res.Actions = append(res.Actions, a.XMLName.Local)
			}
		}
		res.Default = resp.Actions.Execute
	}
	for _, n := range resp.Notes {
		if n.Type == "" {
			n.Type = "info"
		}
		res.Notes = append(res.Notes, CommandNote{Type: n.Type, Text: n.Text})
	}
	if resp.Form != nil {
		f := resp.Form.JSON()
		res.Form = &f
	}
	if res.SessionID != "" {
		if res.Status == "executing" && resp.Form != nil && resp.Form.Type == dataform.TypeForm {
			e.setCommandForm(to, res.SessionID, resp.Form)
		} else {
			e.setCommandForm(to, res.SessionID, nil)
		}
	}
	return res, nil
}

// commandForm is the form of a command session's current stage, nil if none is known.
func (e *Engine) commandForm(service jid.JID, sessionID string) *dataform.Form {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cmdForms[service.String()+" "+sessionID]
}

// setCommandForm keeps (or with nil forgets) the form of a session's current stage. Session ids
// are the service's: the key holds both.
func (e *Engine) setCommandForm(service jid.JID, sessionID string, f *dataform.Form) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sessionID = service.String() + " " + sessionID
	if f == nil {
		delete(e.cmdForms, sessionID)
		return
	}
	if e.cmdForms == nil {
		e.cmdForms = map[string]*dataform.Form{}
	}
	if _, ok := e.cmdForms[sessionID]; !ok && len(e.cmdForms) >= maxCommandSessions {
		for k := range e.cmdForms { // an abandoned session: any one will do
			delete(e.cmdForms, k)
			break
		}
	}
	e.cmdForms[sessionID] = f
}
