// Package register is the relay's in-band registration endpoint (XEP-0077): POST /api/register
// creates an account on the XMPP server and GET /api/register describes what the server asks
// for. The relay does the registration upstream on an unauthenticated stream of its own, so a
// browser never needs a raw XMPP connection to sign up.
package register

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/sparkweb/sparkweb/wasm/dataform"
)

const (
	nsRegister        = "jabber:iq:register"
	nsRegisterFeature = "http://jabber.org/features/iq-register"
	nsFraming         = "urn:ietf:params:xml:ns:xmpp-framing"
	nsStreams         = "http://etherx.jabber.org/streams"
	nsStanzas         = "urn:ietf:params:xml:ns:xmpp-stanzas"
)

// StanzaError is the server's refusal of a registration: an XMPP stanza error condition such
// as conflict (the name is taken), not-allowed or not-acceptable.
type StanzaError struct {
	Condition string
	Text      string
}

func (e *StanzaError) Error() string {
	if e.Text != "" {
		return e.Condition + ": " + e.Text
	}
	return e.Condition
}

// errNoRegistration is a server that does not offer in-band registration at all.
var errNoRegistration = &StanzaError{Condition: "not-allowed", Text: "the XMPP server does not offer in-band registration"}

// Info is what the server asks of a new account.
type Info struct {
	Instructions string
	// Fields are the legacy fields named in the server's form (username, password, email, ...).
	Fields []string
	// Form is the server's data form, if it sent one (e.g. with a CAPTCHA).
	Form *dataform.Form
}

// stream is an unauthenticated client stream in RFC 7395 framing.
type stream struct {
	conn net.Conn
	d    *xml.Decoder
	seq  int
}

// openStream opens a stream to domain on conn and checks the server offers registration.
func openStream(conn net.Conn, domain string) (*stream, error) {
	s := &stream{conn: conn, d: xml.NewDecoder(conn)}
	if err := s.write(`<open xmlns="` + nsFraming + `" to="` + escape(domain) + `" version="1.0"/>`); err != nil {
		return nil, err
	}
	var features struct {
		Register *struct{} `xml:"http://jabber.org/features/iq-register register"`
	}
	for {
		se, err := s.next()
		if err != nil {
			return nil, fmt.Errorf("read stream features: %w", err)
		}
		switch {
		case se.Name.Space == nsFraming && se.Name.Local == "open":
			if err := s.d.Skip(); err != nil {
				return nil, fmt.Errorf("read stream open: %w", err)
			}
		case se.Name.Space == nsStreams && se.Name.Local == "features":
			if err := s.d.DecodeElement(&features, &se); err != nil {
				return nil, fmt.Errorf("read stream features: %w", err)
			}
			if features.Register == nil {
				return s, errNoRegistration
			}
			return s, nil
		default:
			return nil, fmt.Errorf("unexpected <%s xmlns=%q> before stream features", se.Name.Local, se.Name.Space)
		}
	}
}

// next returns the next top-level start element.
func (s *stream) next() (xml.StartElement, error) {
	for {
		tok, err := s.d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

func (s *stream) write(elem string) error {
	if _, err := io.WriteString(s.conn, elem); err != nil {
		return fmt.Errorf("write to XMPP server: %w", err)
	}
	return nil
}

func (s *stream) close() { _ = s.write(`<close xmlns="` + nsFraming + `"/>`) }

// registerQuery is the <query xmlns='jabber:iq:register'/> of an answer.
type registerQuery struct {
	Instructions string         `xml:"instructions"`
	Form         *dataform.Form `xml:"jabber:x:data x"`
	Children     []struct {
		XMLName xml.Name
	} `xml:",any"`
}

// iq sends an IQ with payload and waits for its answer, whose register query it returns.
func (s *stream) iq(typ, payload string) (registerQuery, error) {
	s.seq++
	id := fmt.Sprintf("reg%d", s.seq)
	if err := s.write(fmt.Sprintf(`<iq xmlns="jabber:client" type=%q id=%q>%s</iq>`, typ, id, payload)); err != nil {
		return registerQuery{}, err
	}
	for {
		se, err := s.next()
		if err != nil {
			return registerQuery{}, fmt.Errorf("read answer: %w", err)
		}
		if se.Name.Local != "iq" {
			if se.Name.Space == nsStreams && se.Name.Local == "error" {
				return registerQuery{}, errors.New("the XMPP server closed the stream")
			}
			if err := s.d.Skip(); err != nil {
				return registerQuery{}, fmt.Errorf("read answer: %w", err)
			}
			continue
		}
		var answer struct {
			ID    string        `xml:"id,attr"`
			Type  string        `xml:"type,attr"`
			Query registerQuery `xml:"jabber:iq:register query"`
			Error struct {
				Conditions []struct {
					XMLName xml.Name
					Text    string `xml:",chardata"`
				} `xml:",any"`
			} `xml:"error"`
		}
		if err := s.d.DecodeElement(&answer, &se); err != nil {
			return registerQuery{}, fmt.Errorf("read answer: %w", err)
		}
		if answer.ID != id {
			continue
		}
		if answer.Type == "error" {
			e := &StanzaError{Condition: "undefined-condition"}
			for _, c := range answer.Error.Conditions {
				switch {
				case c.XMLName.Space != nsStanzas:
				case c.XMLName.Local == "text":
					e.Text = strings.TrimSpace(c.Text)
				default:
					e.Condition = c.XMLName.Local
				}
			}
			return registerQuery{}, e
		}
		if answer.Query.Form != nil {
			if err := answer.Query.Form.Check(); err != nil {
				return registerQuery{}, err
			}
		}
		return answer.Query, nil
	}
}

// fetchInfo asks the server on conn what registering on domain takes.
func fetchInfo(ctx context.Context, conn net.Conn, domain string) (Info, error) {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	s, err := openStream(conn, domain)
	if err != nil {
		return Info{}, err
	}
	defer s.close()
	q, err := s.iq("get", `<query xmlns="`+nsRegister+`"/>`)
	if err != nil {
		return Info{}, err
	}
	info := Info{Instructions: strings.TrimSpace(q.Instructions), Form: q.Form, Fields: []string{}}
	for _, c := range q.Children {
		switch {
		case c.XMLName.Space != nsRegister && c.XMLName.Space != "":
		case c.XMLName.Local == "instructions", c.XMLName.Local == "registered":
		default:
			info.Fields = append(info.Fields, c.XMLName.Local)
		}
	}
	return info, nil
}

// create registers username with password (and email, if not empty) on conn.
func create(ctx context.Context, conn net.Conn, domain, username, password, email string) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	s, err := openStream(conn, domain)
	if err != nil {
		return err
	}
	defer s.close()
	payload := "<username>" + escape(username) + "</username><password>" + escape(password) + "</password>"
	if email != "" {
		payload += "<email>" + escape(email) + "</email>"
	}
	_, err = s.iq("set", `<query xmlns="`+nsRegister+`">`+payload+`</query>`)
	return err
}

func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
