package engine

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// HTTP file upload (XEP-0363): upload.slot finds the server's upload service (once per
// session), checks the size against its limit and asks for a slot. The tab does the PUT itself
// (webcomponents/sparkweb.js upload()), so no file crosses into the worker; the URL is then sent
// with chat.send {oob} (XEP-0066).

const (
	nsUpload = "urn:xmpp:http:upload:0"
	nsOOB    = "jabber:x:oob"
	// maxURL bounds URLs from tabs and from the network.
	maxURL = 4096
)

// uploadService is the server's HTTP upload service; maxSize is 0 when it states no limit.
type uploadService struct {
	jid     jid.JID
	maxSize int64
}

func (e *Engine) opUploadSlot(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Filename    string `json:"filename"`
		Size        int64  `json:"size"`
		ContentType string `json:"contentType"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	switch {
	case args.Filename == "" || len(args.Filename) > 255 || !utf8.ValidString(args.Filename) || strings.ContainsAny(args.Filename, "/\\\x00"):
		return nil, protocol.Errorf(protocol.CodeBadRequest, "filename must be a file name (no path) of 1 to 255 bytes")
	case args.Size <= 0:
		return nil, protocol.Errorf(protocol.CodeBadRequest, "size must be the file's size in bytes, more than 0")
	case len(args.ContentType) > 255 || strings.ContainsAny(args.ContentType, "\r\n"):
		return nil, protocol.Errorf(protocol.CodeBadRequest, "invalid contentType")
	}
	svc, err := e.uploadService(ctx)
	if err != nil {
		return nil, err
	}
	if svc.maxSize > 0 && args.Size > svc.maxSize {
		return nil, protocol.Errorf(string(stanza.NotAcceptable), "the file is %d bytes; the server accepts at most %d bytes (maxSize)", args.Size, svc.maxSize)
	}
	attrs := []xml.Attr{
		{Name: xml.Name{Local: "filename"}, Value: args.Filename},
		{Name: xml.Name{Local: "size"}, Value: strconv.FormatInt(args.Size, 10)},
	}
	if args.ContentType != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "content-type"}, Value: args.ContentType})
	}
	var slot struct {
		Put struct {
			URL     string `xml:"url,attr"`
			Headers []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:",chardata"`
			} `xml:"header"`
		} `xml:"put"`
		Get struct {
			URL string `xml:"url,attr"`
		} `xml:"get"`
	}
	req := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: nsUpload, Local: "request"}, Attr: attrs})
	if err := e.sendIQ(ctx, "request upload slot", stanza.GetIQ, svc.jid, req, &slot); err != nil {
		return nil, err
	}
	if !webURL(slot.Put.URL) || !webURL(slot.Get.URL) {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "the upload service answered without valid http(s) URLs")
	}
	out := protocol.UploadSlot{Put: slot.Put.URL, Get: slot.Get.URL, Headers: map[string]string{}, MaxSize: svc.maxSize}
	for _, h := range slot.Put.Headers {
		// Only these may be sent with the PUT (XEP-0363 §5), on one line each.
		switch strings.ToLower(h.Name) {
		case "authorization", "cookie", "expires":
			out.Headers[h.Name] = strings.NewReplacer("\r", "", "\n", "").Replace(h.Value)
		}
	}
	return out, nil
}

// uploadService finds the HTTP upload service among the server's disco#items and reads its
// size limit; the answer is kept for the session.
func (e *Engine) uploadService(ctx context.Context) (*uploadService, error) {
	sess, err := e.online()
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if svc := e.svc.upload; svc != nil && e.svc.uploadFor == sess {
		e.mu.Unlock()
		return svc, nil
	}
	e.mu.Unlock()
	domain := sess.LocalAddr().Domain()
	items, err := e.discoItems(ctx, domain, "")
	if err != nil {
		return nil, err
	}
	candidates := []jid.JID{domain} // some servers offer upload on the domain itself
	for _, it := range items.Items {
		if j, err := jid.Parse(it.JID); err == nil && it.Node == "" {
			candidates = append(candidates, j)
		}
	}
	for _, c := range candidates {
		info, err := e.discoInfo(ctx, c, "")
		if err != nil || !info.Has(nsUpload) {
			continue // an item that does not answer is not the upload service
		}
		svc := &uploadService{jid: c}
		if f := info.Form(nsUpload); f != nil {
			if fd := f.Field("max-file-size"); fd != nil && len(fd.Values) > 0 {
				svc.maxSize, _ = strconv.ParseInt(fd.Values[0], 10, 64)
			}
		}
		e.mu.Lock()
		e.svc.upload, e.svc.uploadFor = svc, sess
		e.mu.Unlock()
		return svc, nil
	}
	return nil, protocol.Errorf(protocol.CodeNotImplemented, "the server offers no HTTP file upload (XEP-0363)")
}

// webURL reports whether s is an absolute http or https URL of sensible length: the only kind a
// tab may turn into a link or fetch.
func webURL(s string) bool {
	if len(s) > maxURL || !utf8.ValidString(s) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// oobElement is the XEP-0066 <x/> of an outgoing message.
func oobElement(o *protocol.OOB) xml.TokenReader {
	inner := []xml.TokenReader{textElement("url", o.URL)}
	if o.Desc != "" {
		inner = append(inner, textElement("desc", o.Desc))
	}
	return xmlstream.Wrap(xmlstream.MultiReader(inner...), xml.StartElement{Name: xml.Name{Space: nsOOB, Local: "x"}})
}

// incomingOOB is the XEP-0066 <x/> of a received message.
type incomingOOB struct {
	URL  string `xml:"url"`
	Desc string `xml:"desc"`
}

// oob returns the link of a received message, if it is a web URL; anything else (javascript:,
// data:, ...) is dropped rather than handed to a tab.
func (o *incomingOOB) oob() *protocol.OOB {
	if o == nil {
		return nil
	}
	u := strings.TrimSpace(o.URL)
	if !webURL(u) {
		return nil
	}
	return &protocol.OOB{URL: u, Desc: clip(o.Desc, maxStatus)}
}
