package engine

import (
	"context"

	"mellium.im/xmpp/jid"
)

// UsesVCard4 reports whether profiles go to vCard4 in PEP (else vcard-temp) on this server.
func (e *Engine) UsesVCard4(ctx context.Context) bool { return e.useVCard4(ctx) }

// VCardPhoto returns the PHOTO of the vcard-temp of bare, as XEP-0153 clients see it.
func (e *Engine) VCardPhoto(ctx context.Context, bare string) (typ, b64 string, err error) {
	c, err := e.fetchCard(ctx, jid.MustParse(bare), false)
	if err != nil {
		return "", "", err
	}
	typ, b64 = c.Photo()
	return typ, b64, nil
}
