package xmppws

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/websocket"
)

// ErrNotAuthorized is wrapped in Login's error when the server rejects the credentials.
var ErrNotAuthorized = errors.New("xmppws: not authorized")

// LoginConfig says who logs in and how.
type LoginConfig struct {
	// JID is the account; its resourcepart, if any, is the resource requested at bind.
	JID jid.JID
	// Password is used for SASL and not kept.
	Password string
	// NoBind stops after SASL: enough to check a password.
	NoBind bool
	// AllowPlain also offers SASL PLAIN. SCRAM is always preferred.
	AllowPlain bool
	// Mechanisms, if set, replaces the SASL mechanisms offered, e.g. SCRAM from stored keys
	// (package scram); Password and AllowPlain are then not used.
	Mechanisms []sasl.Mechanism
	// Resume, if not nil, is negotiated after SASL instead of resource binding: it restores an
	// earlier session (XEP-0198 resumption, see package sm) and must leave the session Ready
	// with its address set. Its error, such as a refused resumption, is Login's error.
	Resume *xmpp.StreamFeature
}

// Login negotiates a client stream on conn: SASL with SCRAM-SHA-256 or SCRAM-SHA-1 (never the
// -PLUS variants: a browser has no channel binding) and, unless NoBind, resource binding.
// The connection is treated as secure: the relay link is TLS or loopback.
func Login(ctx context.Context, conn net.Conn, cfg LoginConfig) (*xmpp.Session, error) {
	mechs := cfg.Mechanisms
	if mechs == nil {
		mechs = []sasl.Mechanism{sasl.ScramSha256, sasl.ScramSha1}
		if cfg.AllowPlain {
			mechs = append(mechs, sasl.Plain)
		}
	}
	features := []xmpp.StreamFeature{xmpp.SASL("", cfg.Password, mechs...), bindResource(cfg.JID.Resourcepart(), !cfg.NoBind)}
	if cfg.Resume != nil {
		// Without bind in the list, mellium negotiates the resumption as the one feature after
		// SASL, and returns its error instead of moving on to bind.
		features[1] = *cfg.Resume
	}
	s, err := xmpp.NewSession(ctx, cfg.JID.Domain(), cfg.JID.Bare(), conn, xmpp.Secure,
		websocket.Negotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: features}
		}))
	if err != nil {
		if isAuthFailure(err) {
			return nil, fmt.Errorf("login %s: %w", cfg.JID.Bare(), ErrNotAuthorized)
		}
		return nil, fmt.Errorf("login %s: %w", cfg.JID.Bare(), err)
	}
	return s, nil
}

// isAuthFailure recognises a SASL <failure/>. mellium returns it as a value of an internal type,
// so it can only be told apart by the package that type lives in.
func isAuthFailure(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if reflect.TypeOf(e).PkgPath() == "mellium.im/xmpp/internal/saslerr" {
			return true
		}
	}
	return false
}

const nsBind = "urn:ietf:params:xml:ns:xmpp-bind"

// bindResource binds the requested resource. mellium v0.22's own bind feature puts the (still
// empty) JID where the resource belongs, so the server always picks one; this one asks for
// ours. An empty resource lets the server choose. With bind false the feature is only
// acknowledged: mellium refuses a stream whose required features it does not know, and a
// password check must stop right after SASL.
func bindResource(resource string, bind bool) xmpp.StreamFeature {
	return xmpp.StreamFeature{
		Name:       xml.Name{Space: nsBind, Local: "bind"},
		Necessary:  xmpp.Authn,
		Prohibited: xmpp.Ready,
		Parse: func(ctx context.Context, d *xml.Decoder, start *xml.StartElement) (bool, interface{}, error) {
			return true, nil, d.Skip()
		},
		Negotiate: func(ctx context.Context, s *xmpp.Session, _ interface{}) (xmpp.SessionState, io.ReadWriter, error) {
			if !bind {
				return xmpp.Ready, nil, nil
			}
			id := randomID()
			var payload xml.TokenReader
			if resource != "" {
				payload = xmlstream.Wrap(xmlstream.Token(xml.CharData(resource)), xml.StartElement{Name: xml.Name{Local: "resource"}})
			}
			req := stanza.IQ{XMLName: xml.Name{Space: stanza.NSClient, Local: "iq"}, ID: id, Type: stanza.SetIQ}.Wrap(
				xmlstream.Wrap(payload, xml.StartElement{Name: xml.Name{Space: nsBind, Local: "bind"}}))
			w := s.TokenWriter()
			defer w.Close()
			if _, err := xmlstream.Copy(w, req); err != nil {
				return 0, nil, fmt.Errorf("bind: %w", err)
			}
			if err := w.Flush(); err != nil {
				return 0, nil, fmt.Errorf("bind: %w", err)
			}

			r := s.TokenReader()
			defer r.Close()
			d := xml.NewTokenDecoder(r)
			var resp struct {
				stanza.IQ
				JID string        `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
				Err *stanza.Error `xml:"error"`
			}
			tok, err := d.Token()
			if err != nil {
				return 0, nil, fmt.Errorf("bind: %w", err)
			}
			start, ok := tok.(xml.StartElement)
			if !ok || start.Name.Local != "iq" {
				return 0, nil, fmt.Errorf("bind: expected an IQ, got %v", tok)
			}
			if err := d.DecodeElement(&resp, &start); err != nil {
				return 0, nil, fmt.Errorf("bind: %w", err)
			}
			switch {
			case resp.ID != id:
				return 0, nil, fmt.Errorf("bind: response id %q, want %q", resp.ID, id)
			case resp.Type == stanza.ErrorIQ && resp.Err != nil:
				return 0, nil, fmt.Errorf("bind: %w", *resp.Err)
			case resp.Type != stanza.ResultIQ:
				return 0, nil, fmt.Errorf("bind: unexpected IQ type %q", resp.Type)
			}
			j, err := jid.Parse(resp.JID)
			if err != nil {
				return 0, nil, fmt.Errorf("bind: server returned a bad JID %q: %w", resp.JID, err)
			}
			s.UpdateAddr(j)
			return xmpp.Ready, nil, nil
		},
	}
}
