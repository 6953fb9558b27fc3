package engine

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"slices"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// Blocking (XEP-0191): the server keeps the blocklist and drops what blocked JIDs send; the
// engine mirrors the list, which the server pushes to every client of the account on a change.

const nsBlocking = "urn:xmpp:blocking"

// maxBlockJIDs bounds one block.add or block.remove.
const maxBlockJIDs = 1000

// blockItems reads <blocklist/>, <block/> and <unblock/>.
type blockItems struct {
	Items []struct {
		JID string `xml:"jid,attr"`
	} `xml:"item"`
}

// jids returns the valid JIDs of the items, normalised; a bad one from the server is skipped.
func (b blockItems) jids() []string {
	out := make([]string, 0, len(b.Items))
	for _, it := range b.Items {
		if j, err := jid.Parse(it.JID); err == nil {
			out = append(out, j.String())
		}
	}
	return out
}

func blockPayload(name string, jids []string) xml.TokenReader {
	items := make([]xml.TokenReader, 0, len(jids))
	for _, j := range jids {
		items = append(items, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "item"}, Attr: []xml.Attr{{Name: xml.Name{Local: "jid"}, Value: j}}}))
	}
	return xmlstream.Wrap(xmlstream.MultiReader(items...), xml.StartElement{Name: xml.Name{Space: nsBlocking, Local: name}})
}

// setBlockedLocked replaces the blocklist and tells the tabs if it changed.
func (e *Engine) setBlockedLocked(list []string) {
	list = slices.Compact(slices.Sorted(slices.Values(list)))
	if list == nil {
		list = []string{}
	}
	if slices.Equal(list, e.st.blocked) && e.st.blocked != nil {
		return
	}
	e.st.blocked = list
	e.emitLocked("blocklist", protocol.Blocklist{Items: slices.Clone(list)})
	e.persistLocked(keyBlocked, list)
}

// changeBlockedLocked applies a block (add) or an unblock (remove; none means all).
func (e *Engine) changeBlockedLocked(add bool, jids []string) {
	switch {
	case add:
		e.setBlockedLocked(append(slices.Clone(e.st.blocked), jids...))
	case len(jids) == 0:
		e.setBlockedLocked(nil)
	default:
		e.setBlockedLocked(slices.DeleteFunc(slices.Clone(e.st.blocked), func(j string) bool { return slices.Contains(jids, j) }))
	}
}

func (e *Engine) fetchBlocklist(ctx context.Context) error {
	var res blockItems
	if err := e.sendIQ(ctx, "fetch blocklist", stanza.GetIQ, jid.JID{}, blockPayload("blocklist", nil), &res); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setBlockedLocked(res.jids())
	return nil
}

// onBlockPushIQ applies the server's push of a block or unblock made by any of our clients.
func (e *Engine) onBlockPushIQ(_ context.Context, r iqRequest) (xml.TokenReader, error) {
	if r.Type != stanza.SetIQ || !r.fromSelf(e) {
		return nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}
	}
	var b blockItems
	if err := r.Decode(&b); err != nil {
		return nil, stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.changeBlockedLocked(r.Payload.Name.Local == "block", b.jids())
	return nil, nil
}

func (e *Engine) opBlockList(ctx context.Context, _ json.RawMessage) (any, error) {
	if _, err := e.online(); err == nil {
		if err := e.fetchBlocklist(ctx); err != nil {
			return nil, err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return protocol.Blocklist{Items: append([]string{}, e.st.blocked...)}, nil
}

func (e *Engine) opBlockAdd(ctx context.Context, raw json.RawMessage) (any, error) {
	return e.block(ctx, raw, true)
}

func (e *Engine) opBlockRemove(ctx context.Context, raw json.RawMessage) (any, error) {
	return e.block(ctx, raw, false)
}

func (e *Engine) block(ctx context.Context, raw json.RawMessage, add bool) (any, error) {
	var args struct {
		JIDs []string `json:"jids"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	if add && len(args.JIDs) == 0 {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "jids required")
	}
	if len(args.JIDs) > maxBlockJIDs {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "at most %d jids at once", maxBlockJIDs)
	}
	jids := make([]string, 0, len(args.JIDs))
	for _, s := range args.JIDs {
		j, err := jidArg(s)
		if err != nil {
			return nil, err
		}
		jids = append(jids, j.String())
	}
	name, what := "block", "block"
	if !add {
		name, what = "unblock", "unblock"
	}
	if err := e.sendIQ(ctx, what, stanza.SetIQ, jid.JID{}, blockPayload(name, jids), nil); err != nil {
		return nil, err
	}
	// The server's push says the same, usually first; applying it twice changes nothing.
	e.mu.Lock()
	defer e.mu.Unlock()
	e.changeBlockedLocked(add, jids)
	return nil, nil
}
