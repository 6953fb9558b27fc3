package engine

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/disco"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// sendIQ sends an IQ of type typ to to (the zero JID means our own account) carrying payload,
// waits for the answer and decodes the answer's payload into out (nil ignores it). A stanza
// error comes back as a protocol error with its condition as the code; what names the action
// in messages ("fetch vCard").
func (e *Engine) sendIQ(ctx context.Context, what string, typ stanza.IQType, to jid.JID, payload xml.TokenReader, out any) error {
	sess, err := e.online()
	if err != nil {
		return err
	}
	iq := stanza.IQ{XMLName: xml.Name{Space: stanza.NSClient, Local: "iq"}, ID: randomID(), Type: typ, To: to}
	err = sess.UnmarshalIQElement(ctx, payload, iq, out)
	var se stanza.Error
	switch {
	case errors.As(err, &se):
		return stanzaError(&se, what)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return protocol.Errorf(protocol.CodeNotConnected, "%s: no answer: %v", what, err)
	case err != nil:
		return protocol.Errorf(protocol.CodeNotConnected, "%s: %v", what, err)
	}
	return nil
}

// iqRequest is an IQ get or set addressed to us, with its payload not yet decoded.
type iqRequest struct {
	stanza.IQ
	// Payload is the start element of the IQ's child; decode it with Decode.
	Payload xml.StartElement
	d       *xml.Decoder
}

// Decode reads the payload into v (as xml.Decoder.DecodeElement).
func (r iqRequest) Decode(v any) error { return r.d.DecodeElement(v, &r.Payload) }

// fromSelf reports whether the request came from our own account (mellium blanks our bare JID;
// some servers send it).
func (r iqRequest) fromSelf(e *Engine) bool {
	return r.From.Equal(jid.JID{}) || e.isOwnBare(r.From)
}

// iqHandlerFunc answers one IQ get or set: it returns the result's payload (nil for an empty
// result) or an error; a stanza.Error is sent as that condition, any other error as
// internal-server-error.
type iqHandlerFunc func(ctx context.Context, r iqRequest) (xml.TokenReader, error)

// iqHandlers maps the payload element of IQ gets and sets addressed to us to their handler,
// the way ops maps requests from tabs. An IQ with no handler gets service-unavailable.
func (e *Engine) iqHandlers() map[xml.Name]iqHandlerFunc {
	return map[xml.Name]iqHandlerFunc{
		{Space: nsRoster, Local: "query"}:     e.onRosterPushIQ, // roster.go
		{Space: disco.NSInfo, Local: "query"}: e.onDiscoInfoIQ,  // disco.go
		{Space: nsPing, Local: "ping"}:        e.onPingIQ,       // ping.go
		{Space: nsBlocking, Local: "block"}:   e.onBlockPushIQ,  // blocking.go
		{Space: nsBlocking, Local: "unblock"}: e.onBlockPushIQ,  // blocking.go
	}
}

// handleIQ dispatches an IQ get or set to its handler and writes the answer; d reads the whole
// IQ, its start element first.
func (e *Engine) handleIQ(t xmlstream.TokenReadEncoder, iq stanza.IQ, d *xml.Decoder) error {
	if _, err := d.Token(); err != nil { // the <iq> start element
		return fmt.Errorf("read IQ: %w", err)
	}
	var payload *xml.StartElement
	for payload == nil {
		tok, err := d.Token()
		if err != nil {
			return e.reject(t, iq, stanza.BadRequest, "IQ without a payload")
		}
		if se, ok := tok.(xml.StartElement); ok {
			payload = &se
		}
	}
	h, ok := e.iqHandlers()[payload.Name]
	if !ok {
		return e.reject(t, iq, stanza.ServiceUnavailable, "")
	}
	result, err := h(context.Background(), iqRequest{IQ: iq, Payload: *payload, d: d})
	var se stanza.Error
	switch {
	case errors.As(err, &se):
		_, err = xmlstream.Copy(t, iq.Error(se))
	case err != nil:
		e.log.Warn("IQ handler failed", "payload", payload.Name.Space+" "+payload.Name.Local, "err", err)
		return e.reject(t, iq, stanza.InternalServerError, "")
	default:
		_, err = xmlstream.Copy(t, iq.Result(result))
	}
	if err != nil {
		return fmt.Errorf("answer IQ: %w", err)
	}
	return nil
}

func (e *Engine) reject(t xmlstream.TokenReadEncoder, iq stanza.IQ, cond stanza.Condition, text string) error {
	se := stanza.Error{Type: stanza.Cancel, Condition: cond}
	if text != "" {
		se.Text = map[string]string{"": text}
	}
	if _, err := xmlstream.Copy(t, iq.Error(se)); err != nil {
		return fmt.Errorf("answer IQ: %w", err)
	}
	return nil
}
