package muc

import (
	"encoding/xml"

	"mellium.im/xmlstream"
)

// NSPubSub is the PubSub namespace: bookmarks (XEP-0402) live in a PEP node.
const NSPubSub = "http://jabber.org/protocol/pubsub"

// Conference is a bookmark's payload: <conference xmlns='urn:xmpp:bookmarks:1'/>.
type Conference struct {
	Name     string `xml:"name,attr"`
	Autojoin string `xml:"autojoin,attr"` // "true" or "1"; a string so a bad value is just false
	Nick     string `xml:"nick"`
	Password string `xml:"password"`
}

// AutojoinSet reports whether the bookmark asks to join its room at login.
func (c Conference) AutojoinSet() bool { return c.Autojoin == "true" || c.Autojoin == "1" }

// BookmarkItem is a pubsub <item/> holding one bookmark; its id is the room's JID.
type BookmarkItem struct {
	ID         string      `xml:"id,attr"`
	Conference *Conference `xml:"urn:xmpp:bookmarks:1 conference"`
}

// BookmarkItems is the <pubsub/> answer to an items request.
type BookmarkItems struct {
	Items []BookmarkItem `xml:"http://jabber.org/protocol/pubsub items>item"`
}

// FetchBookmarks is the <pubsub/> that asks for every bookmark.
func FetchBookmarks() xml.TokenReader {
	items := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "items"}, Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: NSBookmarks}}})
	return xmlstream.Wrap(items, xml.StartElement{Name: xml.Name{Space: NSPubSub, Local: "pubsub"}})
}

// PublishBookmark is the <pubsub/> that stores one bookmark with the publish options XEP-0402
// requires: persistent and visible to our account only; with all, also as many items as there
// are rooms and no last item sent on subscription (ejabberd 23.01 knows neither option and
// refuses the publish, yet keeps many items).
func PublishBookmark(room string, c Conference, all bool) xml.TokenReader {
	attrs := []xml.Attr{{Name: xml.Name{Local: "autojoin"}, Value: "false"}}
	if c.AutojoinSet() {
		attrs[0].Value = "true"
	}
	if c.Name != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "name"}, Value: c.Name})
	}
	var inner []xml.TokenReader
	if c.Nick != "" {
		inner = append(inner, text("nick", c.Nick))
	}
	if c.Password != "" {
		inner = append(inner, text("password", c.Password))
	}
	conf := xmlstream.Wrap(xmlstream.MultiReader(inner...), xml.StartElement{Name: xml.Name{Space: NSBookmarks, Local: "conference"}, Attr: attrs})
	item := xmlstream.Wrap(conf, xml.StartElement{Name: xml.Name{Local: "item"}, Attr: []xml.Attr{{Name: xml.Name{Local: "id"}, Value: room}}})
	publish := xmlstream.Wrap(item, xml.StartElement{Name: xml.Name{Local: "publish"}, Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: NSBookmarks}}})
	field := func(name, value string, hidden bool) xml.TokenReader {
		a := []xml.Attr{{Name: xml.Name{Local: "var"}, Value: name}}
		if hidden {
			a = append(a, xml.Attr{Name: xml.Name{Local: "type"}, Value: "hidden"})
		}
		return xmlstream.Wrap(text("value", value), xml.StartElement{Name: xml.Name{Local: "field"}, Attr: a})
	}
	fields := []xml.TokenReader{
		field("FORM_TYPE", NSPubSub+"#publish-options", true),
		field("pubsub#persist_items", "true", false),
		field("pubsub#access_model", "whitelist", false),
	}
	if all {
		fields = append(fields, field("pubsub#max_items", "max", false), field("pubsub#send_last_published_item", "never", false))
	}
	form := xmlstream.Wrap(xmlstream.MultiReader(fields...), xml.StartElement{Name: xml.Name{Space: "jabber:x:data", Local: "x"}, Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "submit"}}})
	opts := xmlstream.Wrap(form, xml.StartElement{Name: xml.Name{Local: "publish-options"}})
	return xmlstream.Wrap(xmlstream.MultiReader(publish, opts), xml.StartElement{Name: xml.Name{Space: NSPubSub, Local: "pubsub"}})
}

// RetractBookmark is the <pubsub/> that removes the bookmark of room and tells our clients.
func RetractBookmark(room string) xml.TokenReader {
	item := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "item"}, Attr: []xml.Attr{{Name: xml.Name{Local: "id"}, Value: room}}})
	retract := xmlstream.Wrap(item, xml.StartElement{Name: xml.Name{Local: "retract"}, Attr: []xml.Attr{
		{Name: xml.Name{Local: "node"}, Value: NSBookmarks}, {Name: xml.Name{Local: "notify"}, Value: "true"},
	}})
	return xmlstream.Wrap(retract, xml.StartElement{Name: xml.Name{Space: NSPubSub, Local: "pubsub"}})
}

// WidenBookmarks is the pubsub#owner <pubsub/> that lets the bookmarks node keep maxItems
// items ("max" or a number), for servers that take max_items only as node configuration; with
// notifyRetract, it also has removals notified (ejabberd's PEP default is not to).
func WidenBookmarks(maxItems string, notifyRetract bool) xml.TokenReader {
	field := func(name, value, typ string) xml.TokenReader {
		a := []xml.Attr{{Name: xml.Name{Local: "var"}, Value: name}}
		if typ != "" {
			a = append(a, xml.Attr{Name: xml.Name{Local: "type"}, Value: typ})
		}
		return xmlstream.Wrap(text("value", value), xml.StartElement{Name: xml.Name{Local: "field"}, Attr: a})
	}
	fields := []xml.TokenReader{
		field("FORM_TYPE", NSPubSub+"#node_config", "hidden"),
		field("pubsub#max_items", maxItems, ""),
	}
	if notifyRetract {
		fields = append(fields, field("pubsub#notify_retract", "1", ""))
	}
	form := xmlstream.Wrap(xmlstream.MultiReader(fields...), xml.StartElement{Name: xml.Name{Space: "jabber:x:data", Local: "x"}, Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "submit"}}})
	conf := xmlstream.Wrap(form, xml.StartElement{Name: xml.Name{Local: "configure"}, Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: NSBookmarks}}})
	return xmlstream.Wrap(conf, xml.StartElement{Name: xml.Name{Space: NSPubSub + "#owner", Local: "pubsub"}})
}
