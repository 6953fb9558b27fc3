package engine

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/dataform"
	"github.com/sparkweb/sparkweb/wasm/muc"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// Room creation and configuration (XEP-0045 §10): the room's configuration is a data form its
// owner fetches and submits; muc.create fills it from a few common settings.

// roomConfig are the settings muc.create accepts, each one standard room configuration field.
type roomConfig struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Persistent  *bool   `json:"persistent"`
	MembersOnly *bool   `json:"membersOnly"`
	Moderated   *bool   `json:"moderated"`
	Password    *string `json:"password"`
	Public      *bool   `json:"public"`
}

// values turns the settings into form values, by field var.
func (c roomConfig) values() map[string][]string {
	v := map[string][]string{}
	str := func(name string, s *string) {
		if s != nil {
			v[name] = []string{*s}
		}
	}
	flag := func(name string, b *bool) {
		if b != nil {
			v[name] = []string{map[bool]string{true: "1", false: "0"}[*b]}
		}
	}
	str("muc#roomconfig_roomname", c.Name)
	str("muc#roomconfig_roomdesc", c.Description)
	flag("muc#roomconfig_persistentroom", c.Persistent)
	flag("muc#roomconfig_membersonly", c.MembersOnly)
	flag("muc#roomconfig_moderatedroom", c.Moderated)
	flag("muc#roomconfig_publicroom", c.Public)
	if c.Password != nil {
		on := *c.Password != ""
		flag("muc#roomconfig_passwordprotectedroom", &on)
		str("muc#roomconfig_roomsecret", c.Password)
	}
	return v
}

func (e *Engine) opMUCCreate(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Room   string      `json:"room"`
		Nick   string      `json:"nick"`
		Config *roomConfig `json:"config"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	if c := args.Config; c != nil {
		for what, s := range map[string]*string{"name": c.Name, "description": c.Description, "password": c.Password} {
			if s != nil {
				if err := textArg(what, *s, muc.MaxSubject); err != nil {
					return nil, err
				}
			}
		}
	}
	r, err := e.join(ctx, joinArgs{Room: args.Room, Nick: args.Nick}, true)
	if err != nil {
		return nil, err
	}
	rj := jid.MustParse(r.JID)
	if args.Config == nil {
		// An instant room: the service's defaults.
		if err := e.sendIQ(ctx, "create room", stanza.SetIQ, rj, ownerQuery(emptyForm("submit")), nil); err != nil {
			return nil, err
		}
		return r, nil
	}
	values := args.Config.values()
	// Prosody has no passwordprotectedroom: a room with a secret is protected.
	if err := e.configureRoom(ctx, rj, values, []string{"muc#roomconfig_passwordprotectedroom"}); err != nil {
		// A new room that cannot be configured is still locked: cancelling destroys it.
		_ = e.sendIQ(ctx, "cancel room creation", stanza.SetIQ, rj, ownerQuery(emptyForm("cancel")), nil)
		_ = e.leave(ctx, rj)
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if rr := e.st.rooms[r.JID]; rr != nil {
		if args.Config.Name != nil && *args.Config.Name != "" {
			rr.Name = clip(*args.Config.Name, muc.MaxName)
			e.emitLocked("room", rr.Room)
		}
		if args.Config.Password != nil {
			rr.password = *args.Config.Password
		}
		return rr.Room, nil
	}
	return r, nil
}

// roomForm fetches a room's configuration form.
func (e *Engine) roomForm(ctx context.Context, rj jid.JID) (*dataform.Form, error) {
	var res struct {
		Form *dataform.Form `xml:"jabber:x:data x"`
	}
	if err := e.sendIQ(ctx, "get configuration of "+rj.String(), stanza.GetIQ, rj, ownerQuery(nil), &res); err != nil {
		return nil, err
	}
	if res.Form == nil {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "room %s sent no configuration form", rj)
	}
	if err := res.Form.Check(); err != nil {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "room %s: %v", rj, err)
	}
	return res.Form, nil
}

// configureRoom submits values to the room's configuration form. A value whose field the form
// lacks is an error (feature-not-implemented for settings of muc.create, bad-request from the
// form check for muc.config.set), except for the optional ones, which are dropped.
func (e *Engine) configureRoom(ctx context.Context, rj jid.JID, values map[string][]string, optional []string) error {
	form, err := e.roomForm(ctx, rj)
	if err != nil {
		return err
	}
	if optional != nil {
		var missing []string
		for v := range values {
			switch {
			case form.Field(v) != nil:
			case slices.Contains(optional, v):
				delete(values, v)
			default:
				missing = append(missing, v)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return protocol.Errorf(protocol.CodeNotImplemented, "the room service has no setting %v", missing)
		}
	}
	sub, err := dataform.Submit(form, values)
	var verr *dataform.ValidationError
	if errors.As(err, &verr) {
		return protocol.Errorf(protocol.CodeBadRequest, "%v", verr)
	}
	if err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "%v", err)
	}
	return e.sendIQ(ctx, "configure "+rj.String(), stanza.SetIQ, rj, ownerQuery(sub.TokenReader()), nil)
}

func (e *Engine) opMUCConfigGet(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Room string `json:"room"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	rj, err := roomArg(args.Room)
	if err != nil {
		return nil, err
	}
	form, err := e.roomForm(ctx, rj)
	if err != nil {
		return nil, err
	}
	return form.JSON(), nil
}

func (e *Engine) opMUCConfigSet(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Room   string              `json:"room"`
		Values map[string][]string `json:"values"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	rj, err := roomArg(args.Room)
	if err != nil {
		return nil, err
	}
	return nil, e.configureRoom(ctx, rj, args.Values, nil)
}
