package push

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/relay/store"
)

const (
	nsPubSub        = "http://jabber.org/protocol/pubsub"
	nsPush          = "urn:xmpp:push:0"
	nsData          = "jabber:x:data"
	nsDiscoInfo     = "http://jabber.org/protocol/disco#info"
	formSummary     = "urn:xmpp:push:summary"
	formPublishOpts = "http://jabber.org/protocol/pubsub#publish-options"
)

// iqStanza is an IQ received by the component, with what a push service looks at.
type iqStanza struct {
	ID     string    `xml:"id,attr"`
	Type   string    `xml:"type,attr"`
	From   string    `xml:"from,attr"`
	To     string    `xml:"to,attr"`
	PubSub *pubsub   `xml:"http://jabber.org/protocol/pubsub pubsub"`
	Disco  *struct{} `xml:"http://jabber.org/protocol/disco#info query"`
}

type pubsub struct {
	Publish *struct {
		Node  string `xml:"node,attr"`
		Items []struct {
			Notification *struct {
				Form *dataForm `xml:"jabber:x:data x"`
			} `xml:"urn:xmpp:push:0 notification"`
		} `xml:"item"`
	} `xml:"publish"`
	Options *struct {
		Form *dataForm `xml:"jabber:x:data x"`
	} `xml:"publish-options"`
}

// dataForm is an XEP-0004 form, read as field → first value.
type dataForm struct {
	Fields []struct {
		Var    string   `xml:"var,attr"`
		Values []string `xml:"value"`
	} `xml:"field"`
}

func (f *dataForm) get(name string) string {
	if f == nil {
		return ""
	}
	for _, fl := range f.Fields {
		if fl.Var == name && len(fl.Values) > 0 {
			return strings.TrimSpace(fl.Values[0])
		}
	}
	return ""
}

// Notification is what one publication tells about the user's new messages.
type Notification struct {
	// Count is the number of pending messages (1 if the server does not say).
	Count int
	// Sender is the bare JID of the last message's sender, if the server includes it.
	Sender string
	// Body is the last message's text, or the server's placeholder, if included.
	Body string
}

// stanzaError is an IQ error answer: its type and RFC 6120 condition.
type stanzaError struct {
	typ, condition, text string
}

func (e *stanzaError) Error() string { return e.condition + ": " + e.text }

// handleIQ answers one IQ and returns the reply to send ("" for none).
func (s *Service) handleIQ(ctx context.Context, iq *iqStanza) string {
	switch iq.Type {
	case "result", "error":
		return "" // answers to nothing we asked
	case "get":
		if iq.Disco != nil {
			return s.discoInfo(iq)
		}
		return s.errorReply(iq, &stanzaError{"cancel", "service-unavailable", "not supported"})
	case "set":
		if iq.PubSub == nil || iq.PubSub.Publish == nil {
			return s.errorReply(iq, &stanzaError{"cancel", "service-unavailable", "not supported"})
		}
	default:
		return s.errorReply(iq, &stanzaError{"modify", "bad-request", "unknown IQ type"})
	}
	reg, n, err := s.checkPublication(iq)
	if err != nil {
		var se *stanzaError
		if !errors.As(err, &se) {
			se = &stanzaError{"wait", "internal-server-error", "try again later"}
		}
		count(&s.stats.Publications, se.condition)
		s.log.InfoContext(ctx, "push: publication refused", "from", iq.From, "condition", se.condition, "reason", se.text)
		return s.errorReply(iq, se)
	}
	count(&s.stats.Publications, "result")
	// The server is answered at once: delivery takes a round trip to a push service, and a
	// failure there is the relay's to handle (retry, cleanup), not the server's.
	s.dispatch(ctx, reg, n)
	return fmt.Sprintf("<iq type='result' id='%s' from='%s' to='%s'/>", escape(iq.ID), escape(s.component.String()), escape(iq.From))
}

// checkPublication finds the registration a publication is for and checks its secret.
// Unknown nodes get item-not-found, so the server drops a registration whose last browser is
// gone; a wrong secret gets forbidden.
func (s *Service) checkPublication(iq *iqStanza) (store.PushRegistration, *Notification, error) {
	p := iq.PubSub
	node := p.Publish.Node
	if node == "" {
		return store.PushRegistration{}, nil, &stanzaError{"modify", "bad-request", "publish without a node"}
	}
	reg, err := s.cfg.Store.PushByNode(node)
	if errors.Is(err, store.ErrNotFound) {
		return reg, nil, &stanzaError{"cancel", "item-not-found", "no such node"}
	}
	if err != nil {
		s.log.Error("push: read registration", "err", err)
		return reg, nil, err
	}
	var opts *dataForm
	if p.Options != nil {
		opts = p.Options.Form
	}
	secret := opts.get("secret")
	if secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(reg.Secret)) != 1 {
		return reg, nil, &stanzaError{"auth", "forbidden", "wrong or missing secret"}
	}
	// Only the account's own server publishes for it: with server-to-server links, another
	// server could reach this component too (the secret already makes that useless).
	if from, err := jid.Parse(iq.From); err != nil || !strings.EqualFold(from.Domainpart(), jid.MustParse(reg.JID).Domainpart()) {
		return reg, nil, &stanzaError{"auth", "forbidden", "publication from another server"}
	}
	var form *dataForm
	for _, it := range p.Publish.Items {
		if it.Notification != nil {
			form = it.Notification.Form
			if form == nil {
				form = &dataForm{} // an empty notification: a wake-up, no message
			}
		}
	}
	return reg, summary(form), nil
}

// summary reads an urn:xmpp:push:summary form; nil when it reports no message to show.
//
// Only a summary with a last-message-body is a message: servers put the text there, or a
// placeholder when configured not to reveal it (Prosody's "New Message!", ejabberd's
// include_body text). Summaries without one are wake-up calls for mobile apps: ejabberd's
// empty notification when a session starts hibernating, Prosody's "unimportant" pushes for
// presences, chat states and receipts (a count, and the sender with push_notification_with_sender).
// A browser needs no wake-up, and "New message" for a typing notification would be false.
func summary(f *dataForm) *Notification {
	if f == nil || f.get("last-message-body") == "" {
		return nil
	}
	n := &Notification{Body: f.get("last-message-body"), Count: 1}
	if sender := f.get("last-message-sender"); sender != "" {
		if j, err := jid.Parse(sender); err == nil {
			n.Sender = j.Bare().String()
		}
	}
	if c, err := strconv.Atoi(f.get("message-count")); err == nil && c > 0 {
		n.Count = c
	}
	return n
}

func (s *Service) errorReply(iq *iqStanza, e *stanzaError) string {
	return fmt.Sprintf("<iq type='error' id='%s' from='%s' to='%s'><error type='%s'><%s xmlns='%s'/><text xmlns='%s'>%s</text></error></iq>",
		escape(iq.ID), escape(s.component.String()), escape(iq.From), e.typ, e.condition, nsStanzas, nsStanzas, escape(e.text))
}

// discoInfo says what the component is: an XEP-0357 app server (pubsub/push).
func (s *Service) discoInfo(iq *iqStanza) string {
	return fmt.Sprintf("<iq type='result' id='%s' from='%s' to='%s'><query xmlns='%s'><identity category='pubsub' type='push' name='SparkWeb Web Push'/><feature var='%s'/><feature var='%s'/></query></iq>",
		escape(iq.ID), escape(s.component.String()), escape(iq.From), nsDiscoInfo, nsDiscoInfo, nsPush)
}
