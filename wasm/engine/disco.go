package engine

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"slices"
	"sync"
	"sync/atomic"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/disco"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// Service discovery (XEP-0030): the disco.* ops ask any entity; disco#info queries addressed to
// us are answered with what clientFeatures lists, also under our caps node (caps.go).

// services is the engine's discovery, capabilities, keepalive, CSI and upload state; its maps
// are guarded by Engine.mu.
type services struct {
	// caps holds the features of verified caps verification strings; capsFetch the fetches in
	// flight, by ver (caps.go).
	caps      map[string][]string
	capsFetch map[string]*capsFetch
	capsNodes map[string]string // the node announced with each ver, to ask at node#ver
	// capsQueries counts the disco#info queries for our own caps node we answered.
	capsQueries atomic.Int32

	// lastRecv is when the last stanza arrived (UnixNano), for the keepalive (ping.go).
	lastRecv atomic.Int64

	// csiMu orders CSI state changes and their nonzas; inactive is the state a tab asked for,
	// kept across reconnects (csi.go).
	csiMu    sync.Mutex
	inactive bool
	// quiet is set while the server knows we are inactive: the keepalive then waits longer.
	quiet atomic.Bool

	// upload is the HTTP upload service found for uploadFor, the session it was found on
	// (upload.go).
	upload    *uploadService
	uploadFor any
}

// discoArgs are the args of disco.info and disco.items.
type discoArgs struct {
	JID  string `json:"jid"`
	Node string `json:"node"`
}

func (a discoArgs) parse() (jid.JID, error) {
	if a.JID == "" {
		return jid.JID{}, protocol.Errorf(protocol.CodeBadRequest, "jid required")
	}
	j, err := jidArg(a.JID)
	if err != nil {
		return jid.JID{}, err
	}
	if len(a.Node) > 1024 {
		return jid.JID{}, protocol.Errorf(protocol.CodeBadRequest, "node too long")
	}
	return j, nil
}

func (e *Engine) opDiscoInfo(ctx context.Context, raw json.RawMessage) (any, error) {
	var args discoArgs
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	to, err := args.parse()
	if err != nil {
		return nil, err
	}
	info, err := e.discoInfo(ctx, to, args.Node)
	if err != nil {
		return nil, err
	}
	out := protocol.DiscoInfo{Identities: []protocol.DiscoIdentity{}, Features: info.FeatureList(), Forms: []protocol.Form{}}
	for _, id := range info.Identities {
		out.Identities = append(out.Identities, protocol.DiscoIdentity{Category: id.Category, Type: id.Type, Name: id.Name, Lang: id.Lang})
	}
	for i := range info.Forms {
		out.Forms = append(out.Forms, info.Forms[i].JSON())
	}
	return out, nil
}

// discoInfo asks to for its disco#info at node.
func (e *Engine) discoInfo(ctx context.Context, to jid.JID, node string) (disco.Info, error) {
	var info disco.Info
	if err := e.sendIQ(ctx, "disco#info of "+to.String(), stanza.GetIQ, to, disco.Query(disco.NSInfo, node), &info); err != nil {
		return disco.Info{}, err
	}
	if err := info.Check(); err != nil {
		return disco.Info{}, protocol.Errorf(protocol.CodeBadRequest, "malformed answer from %s: %v", to, err)
	}
	return info, nil
}

// discoItems asks to for its disco#items at node.
func (e *Engine) discoItems(ctx context.Context, to jid.JID, node string) (disco.Items, error) {
	var items disco.Items
	if err := e.sendIQ(ctx, "disco#items of "+to.String(), stanza.GetIQ, to, disco.Query(disco.NSItems, node), &items); err != nil {
		return disco.Items{}, err
	}
	if err := items.Check(); err != nil {
		return disco.Items{}, protocol.Errorf(protocol.CodeBadRequest, "malformed answer from %s: %v", to, err)
	}
	return items, nil
}

func (e *Engine) opDiscoItems(ctx context.Context, raw json.RawMessage) (any, error) {
	var args discoArgs
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	to, err := args.parse()
	if err != nil {
		return nil, err
	}
	items, err := e.discoItems(ctx, to, args.Node)
	if err != nil {
		return nil, err
	}
	out := protocol.DiscoItems{Items: []protocol.DiscoItem{}}
	for _, it := range items.Items {
		out.Items = append(out.Items, protocol.DiscoItem{JID: it.JID, Node: it.Node, Name: it.Name})
	}
	return out, nil
}

// ownInfo is what we answer to disco#info: the one identity and every feature, each once (a
// duplicate would make our caps hash ill-formed), sorted.
func ownInfo() disco.Info {
	features := append([]string{disco.NSInfo}, clientFeatures()...)
	slices.Sort(features)
	features = slices.Compact(features)
	info := disco.Info{Identities: []disco.Identity{{Category: "client", Type: "web", Name: "SparkWeb"}}}
	for _, f := range features {
		info.Features = append(info.Features, disco.Feature{Var: f})
	}
	return info
}

// onDiscoInfoIQ answers a disco#info query addressed to us: at no node, or at our caps node.
func (e *Engine) onDiscoInfoIQ(_ context.Context, r iqRequest) (xml.TokenReader, error) {
	if r.Type != stanza.GetIQ {
		return nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.BadRequest}
	}
	var q disco.Info
	if err := r.Decode(&q); err != nil {
		return nil, stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest}
	}
	info := ownInfo()
	switch q.Node {
	case "":
	case ownCaps().Node + "#" + ownCaps().Ver:
		e.svc.capsQueries.Add(1)
	default:
		return nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound}
	}
	info.Node = q.Node
	return info.TokenReader(), nil
}
