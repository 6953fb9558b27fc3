// Package muc is the wire format of multi-user chat (XEP-0045), direct invitations (XEP-0249)
// and bookmarks (XEP-0402): the elements SparkWeb reads and writes, the status codes and what
// they mean, and mention detection. It holds no session and no state, so the engine can route
// every MUC stanza through its own dispatch.
//
// mellium.im/xmpp/muc is not used: it ties rooms to its own handler multiplexer and channel
// objects, while the engine dispatches stanzas itself and keeps room state with the rest of
// its state.
package muc

import (
	"encoding/xml"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"mellium.im/xmlstream"
)

// Namespaces.
const (
	NS           = "http://jabber.org/protocol/muc"
	NSUser       = NS + "#user"
	NSAdmin      = NS + "#admin"
	NSOwner      = NS + "#owner"
	NSConference = "jabber:x:conference" // XEP-0249 direct invitations
	NSBookmarks  = "urn:xmpp:bookmarks:1"
	NSReference  = "urn:xmpp:reference:0" // XEP-0372
)

// Limits on untrusted text from rooms.
const (
	MaxNick    = 128
	MaxSubject = 4096
	MaxReason  = 1024
	MaxName    = 256
)

// Status codes (XEP-0045 §15.6) the engine acts on.
const (
	StatusNonAnonymous = 100
	StatusSelf         = 110
	StatusLogging      = 170
	StatusCreated      = 201
	StatusNickAssigned = 210
	StatusBanned       = 301
	StatusNickChanged  = 303
	StatusKicked       = 307
	StatusAffiliation  = 321
	StatusMembersOnly  = 322
	StatusShutdown     = 332
)

// Roles and affiliations a client may set.
var (
	Roles        = []string{"none", "visitor", "participant", "moderator"}
	Affiliations = []string{"none", "outcast", "member", "admin", "owner"}
)

// ValidRole reports whether r is a XEP-0045 role.
func ValidRole(r string) bool { return contains(Roles, r) }

// ValidAffiliation reports whether a is a XEP-0045 affiliation.
func ValidAffiliation(a string) bool { return contains(Affiliations, a) }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Item is an <item/> of muc#user or muc#admin: an occupant's role and affiliation, and, where
// the room reveals it, its real JID.
type Item struct {
	Affiliation string `xml:"affiliation,attr"`
	Role        string `xml:"role,attr"`
	JID         string `xml:"jid,attr"`
	Nick        string `xml:"nick,attr"`
	Reason      string `xml:"reason"`
	Actor       *struct {
		Nick string `xml:"nick,attr"`
		JID  string `xml:"jid,attr"`
	} `xml:"actor"`
}

// Status is a <status code=”/>. The code is a string so one bad code cannot make the whole
// presence undecodable.
type Status struct {
	Code string `xml:"code,attr"`
}

// Invite is a mediated invitation (XEP-0045 §7.8.2) as the room forwards it.
type Invite struct {
	From   string `xml:"from,attr"`
	To     string `xml:"to,attr"`
	Reason string `xml:"reason"`
}

// UserX is <x xmlns='http://jabber.org/protocol/muc#user'/>, in room presence and messages.
type UserX struct {
	Items    []Item   `xml:"item"`
	Statuses []Status `xml:"status"`
	Invite   *Invite  `xml:"invite"`
	Decline  *Invite  `xml:"decline"`
	Password string   `xml:"password"`
	Destroy  *struct {
		JID    string `xml:"jid,attr"`
		Reason string `xml:"reason"`
	} `xml:"destroy"`
}

// Has reports whether x carries status code c.
func (x *UserX) Has(c int) bool {
	if x == nil {
		return false
	}
	for _, s := range x.Statuses {
		if n, err := strconv.Atoi(s.Code); err == nil && n == c {
			return true
		}
	}
	return false
}

// Item returns the first item, or the zero Item.
func (x *UserX) Item() Item {
	if x == nil || len(x.Items) == 0 {
		return Item{}
	}
	return x.Items[0]
}

// DirectInvite is a XEP-0249 invitation: <x xmlns='jabber:x:conference'/>.
type DirectInvite struct {
	JID      string `xml:"jid,attr"`
	Password string `xml:"password,attr"`
	Reason   string `xml:"reason,attr"`
}

// Reference is a XEP-0372 reference; a mention has type "mention" and a URI naming whom.
type Reference struct {
	Type string `xml:"type,attr"`
	URI  string `xml:"uri,attr"`
}

// ExitReason names why a self-presence of type unavailable took us out of a room, as a stable
// code and English text; ok is false for a plain leave.
func ExitReason(x *UserX) (code, text string, ok bool) {
	it := x.Item()
	why := func(s string) string {
		if it.Actor != nil && it.Actor.Nick != "" {
			s += " by " + Clip(it.Actor.Nick, MaxNick)
		}
		if it.Reason != "" {
			s += ": " + Clip(it.Reason, MaxReason)
		}
		return s
	}
	switch {
	case x != nil && x.Destroy != nil:
		s := "the room was destroyed"
		if x.Destroy.Reason != "" {
			s += ": " + Clip(x.Destroy.Reason, MaxReason)
		}
		return "gone", s, true
	case x.Has(StatusBanned):
		return "banned", why("banned from the room"), true
	case x.Has(StatusKicked):
		return "kicked", why("kicked from the room"), true
	case x.Has(StatusAffiliation):
		return "affiliation-changed", why("removed from the room: affiliation changed"), true
	case x.Has(StatusMembersOnly):
		return "members-only", why("removed from the room: it became members-only"), true
	case x.Has(StatusShutdown):
		return "shutdown", "removed from the room: the service is shutting down", true
	}
	return "", "", false
}

// Clip cuts untrusted text to at most n bytes on a rune boundary.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// Mentions reports whether body names nick as a word of its own, ignoring case: "Alice,"
// mentions alice, "malice" does not.
func Mentions(body, nick string) bool {
	if nick == "" {
		return false
	}
	lb, ln := strings.ToLower(body), strings.ToLower(nick)
	for from := 0; from <= len(lb)-len(ln); {
		i := strings.Index(lb[from:], ln)
		if i < 0 {
			return false
		}
		i += from
		before, _ := utf8.DecodeLastRuneInString(lb[:i])
		after, _ := utf8.DecodeRuneInString(lb[i+len(ln):])
		if (i == 0 || !wordRune(before)) && (i+len(ln) == len(lb) || !wordRune(after)) {
			return true
		}
		_, size := utf8.DecodeRuneInString(lb[i:])
		from = i + size
	}
	return false
}

func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

// MentionsURI reports whether a XEP-0372 mention reference points at one of uris (e.g.
// "xmpp:room@service/nick" and "xmpp:user@domain").
func MentionsURI(refs []Reference, uris ...string) bool {
	for _, r := range refs {
		if r.Type != "mention" {
			continue
		}
		for _, u := range uris {
			if r.URI == u {
				return true
			}
		}
	}
	return false
}

// History is the <history/> of a join: how much of the room's recent messages to send.
type History struct {
	// MaxStanzas limits the count; negative leaves it to the room.
	MaxStanzas int
	// Since, an RFC 3339 time, asks only for what was said after it ("" for no limit).
	Since string
}

// Join is the <x xmlns='http://jabber.org/protocol/muc'/> of a join presence.
func Join(password string, h History) xml.TokenReader {
	var parts []xml.TokenReader
	var attrs []xml.Attr
	if h.MaxStanzas >= 0 {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "maxstanzas"}, Value: strconv.Itoa(h.MaxStanzas)})
	}
	if h.Since != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "since"}, Value: h.Since})
	}
	if len(attrs) > 0 {
		parts = append(parts, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "history"}, Attr: attrs}))
	}
	if password != "" {
		parts = append(parts, text("password", password))
	}
	return xmlstream.Wrap(xmlstream.MultiReader(parts...), xml.StartElement{Name: xml.Name{Space: NS, Local: "x"}})
}

// AdminItem is a muc#admin <query/> that sets one occupant's role (by nick) or one user's
// affiliation (by JID).
func AdminItem(attr, who, what, value, reason string) xml.TokenReader {
	var inner xml.TokenReader
	if reason != "" {
		inner = text("reason", reason)
	}
	item := xmlstream.Wrap(inner, xml.StartElement{Name: xml.Name{Local: "item"}, Attr: []xml.Attr{
		{Name: xml.Name{Local: attr}, Value: who},
		{Name: xml.Name{Local: what}, Value: value},
	}})
	return xmlstream.Wrap(item, xml.StartElement{Name: xml.Name{Space: NSAdmin, Local: "query"}})
}

// MediatedInvite is the muc#user <x/> that asks the room to invite to.
func MediatedInvite(to, reason string) xml.TokenReader {
	var inner xml.TokenReader
	if reason != "" {
		inner = text("reason", reason)
	}
	inv := xmlstream.Wrap(inner, xml.StartElement{Name: xml.Name{Local: "invite"}, Attr: []xml.Attr{{Name: xml.Name{Local: "to"}, Value: to}}})
	return xmlstream.Wrap(inv, xml.StartElement{Name: xml.Name{Space: NSUser, Local: "x"}})
}

// DirectInvitation is the XEP-0249 <x/> inviting to room.
func DirectInvitation(room, password, reason string) xml.TokenReader {
	attrs := []xml.Attr{{Name: xml.Name{Local: "jid"}, Value: room}}
	if password != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "password"}, Value: password})
	}
	if reason != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "reason"}, Value: reason})
	}
	return xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: NSConference, Local: "x"}, Attr: attrs})
}

func text(name, value string) xml.TokenReader {
	return xmlstream.Wrap(xmlstream.Token(xml.CharData(value)), xml.StartElement{Name: xml.Name{Local: name}})
}
