package bridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"github.com/coder/websocket"
	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/xmppauth"
)

const nsSASL = "urn:ietf:params:xml:ns:xmpp-sasl"

// Errors that end a bridge on which the relay authenticates the stream (close 1008).
var (
	// ErrMechanism: the client tried a SASL mechanism other than PLAIN, or a challenge
	// response; the relay answers for it and offers PLAIN alone.
	ErrMechanism = errors.New("relay authenticates the stream: use SASL PLAIN")
	// ErrNotOneElement: a client message was not exactly one well-formed element (RFC 7395
	// §3.3.3), so the relay could not see what it carried.
	ErrNotOneElement = errors.New("each message must be one well-formed XML element")
)

// saslRelay rewrites the SASL exchange of one bridge: whatever <auth/> the client sends, the
// server receives the relay's credentials for the token's subject, so a client can never
// authenticate as someone else and never needs the user's XMPP password.
type saslRelay struct {
	ctx   context.Context
	creds xmppauth.Credentials
	sub   jid.JID
}

// client checks one client message and replaces a PLAIN <auth/> with the relay's own.
func (s *saslRelay) client(_ websocket.MessageType, msg []byte) ([]byte, error) {
	first, err := oneElement(msg)
	if err != nil {
		return nil, err
	}
	if first.Name.Space != nsSASL {
		return msg, nil
	}
	switch first.Name.Local {
	case "abort":
		return msg, nil
	case "auth":
	default:
		return nil, ErrMechanism
	}
	var mech string
	for _, a := range first.Attr {
		if a.Name.Space == "" && a.Name.Local == "mechanism" {
			mech = a.Value
		}
	}
	if mech != "PLAIN" {
		return nil, ErrMechanism
	}
	ir, err := s.creds.InitialResponse(s.ctx, s.sub)
	if err != nil {
		return nil, fmt.Errorf("relay could not authenticate %s: %w", s.sub, err)
	}
	return []byte(`<auth xmlns="` + nsSASL + `" mechanism="` + s.creds.Mechanism() + `">` +
		base64.StdEncoding.EncodeToString(ir) + `</auth>`), nil
}

// oneElement parses msg and returns its start tag; msg must hold exactly one element (an XML
// declaration and surrounding whitespace aside).
func oneElement(msg []byte) (xml.StartElement, error) {
	d := xml.NewDecoder(bytes.NewReader(msg))
	var (
		first xml.StartElement
		depth int
		n     int
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return first, ErrNotOneElement
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				n++
				if n > 1 {
					return first, ErrNotOneElement
				}
				first = t.Copy()
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return first, ErrNotOneElement
			}
		}
	}
	if n != 1 || depth != 0 {
		return first, ErrNotOneElement
	}
	return first, nil
}

// plainOnly is the mechanisms list a client sees on a relay-authenticated bridge.
var plainOnly = []byte(`<mechanisms xmlns="` + nsSASL + `"><mechanism>PLAIN</mechanism></mechanisms>`)

// server makes stream features offer PLAIN alone, whatever the server offers (the relay
// speaks the server's mechanism on the client's behalf).
func (s *saslRelay) server(_ websocket.MessageType, msg []byte) ([]byte, error) {
	if !bytes.Contains(msg, []byte(nsSASL)) || !bytes.Contains(msg, []byte("mechanisms")) {
		return msg, nil
	}
	d := xml.NewDecoder(bytes.NewReader(msg))
	depth := 0
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return msg, nil // not features after all; the client's parser will judge
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 && (t.Name.Local != "features" || t.Name.Space != "http://etherx.jabber.org/streams") {
				return msg, nil
			}
			if depth == 1 && t.Name.Space == nsSASL && t.Name.Local == "mechanisms" {
				if err := d.Skip(); err != nil {
					return msg, nil
				}
				end := d.InputOffset()
				out := make([]byte, 0, len(msg))
				out = append(out, msg[:off]...)
				out = append(out, plainOnly...)
				return append(out, msg[end:]...), nil
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}
