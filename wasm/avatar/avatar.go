// Package avatar is the wire format and the checks of user avatars: XEP-0084 (data and metadata
// in PEP) and the XEP-0153 hash in presence. An avatar is identified by the SHA-1 of its bytes,
// so a cache keyed by that hash can never hold the wrong picture once Check has passed.
package avatar

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"mellium.im/xmlstream"
)

// Namespaces: the PEP nodes of XEP-0084 and the presence element of XEP-0153.
const (
	NSData     = "urn:xmpp:avatar:data"
	NSMetadata = "urn:xmpp:avatar:metadata"
	NSUpdate   = "vcard-temp:x:update"
)

// MaxBytes is the largest avatar accepted, from the user or from the network: far above what a
// client publishes (XEP-0084 suggests tens of kilobytes), small enough for every stanza limit.
const MaxBytes = 256 << 10

// Types are the image types accepted: formats every browser renders and none that can carry
// script (SVG is refused).
var Types = []string{"image/png", "image/jpeg", "image/gif", "image/webp"}

// Errors of Check.
var (
	ErrTooLarge = fmt.Errorf("avatar larger than %d bytes", MaxBytes)
	ErrType     = errors.New("avatar is not a PNG, JPEG, GIF or WebP image")
	ErrHash     = errors.New("avatar data does not match its hash")
)

// Hash returns the avatar id of data: its SHA-1, in lower-case hex.
func Hash(data []byte) string {
	sum := sha1.Sum(data)
	return hex.EncodeToString(sum[:])
}

// ValidHash reports whether h has the form of an avatar id.
func ValidHash(h string) bool {
	if len(h) != 2*sha1.Size {
		return false
	}
	for _, c := range []byte(h) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Sniff returns the image type of data from its first bytes, or "" when it is none of Types.
func Sniff(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return "image/jpeg"
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return "image/gif"
	case len(data) >= 16 && string(data[:4]) == "RIFF" && string(data[8:15]) == "WEBPVP8":
		return "image/webp"
	}
	return ""
}

// Check validates avatar bytes: at most MaxBytes, an image of one of Types (from its content,
// whatever it was declared as), and the SHA-1 hash when hash is not "". It returns the type.
func Check(data []byte, hash string) (string, error) {
	if len(data) > MaxBytes {
		return "", fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	typ := Sniff(data)
	if typ == "" {
		return "", ErrType
	}
	if hash != "" && Hash(data) != hash {
		return "", ErrHash
	}
	return typ, nil
}

// Allowed reports whether typ is one of Types.
func Allowed(typ string) bool { return slices.Contains(Types, typ) }

// Info describes one format of an avatar in its metadata.
type Info struct {
	ID    string `xml:"id,attr"`
	Bytes int    `xml:"bytes,attr"`
	Type  string `xml:"type,attr"`
	URL   string `xml:"url,attr"`
}

// Metadata is the payload of the metadata node; no Info means the user has no avatar.
type Metadata struct {
	Info []Info `xml:"info"`
}

// Find returns the info of the avatar id, or of the first format held in PEP when id is "".
// A nil Metadata has none.
func (m *Metadata) Find(id string) (Info, bool) {
	if m == nil {
		return Info{}, false
	}
	for _, in := range m.Info {
		if in.URL == "" && (id == "" || in.ID == id) {
			return in, true
		}
	}
	return Info{}, false
}

// MetadataItem is an item of the metadata node as answered to an items request.
type MetadataItem struct {
	ID       string    `xml:"id,attr"`
	Metadata *Metadata `xml:"urn:xmpp:avatar:metadata metadata"`
}

// DataItem is an item of the data node: the avatar in base64.
type DataItem struct {
	ID   string `xml:"id,attr"`
	Data string `xml:"urn:xmpp:avatar:data data"`
}

// MetadataPayload is the metadata announcing one avatar; with in nil it announces none.
func MetadataPayload(in *Info) xml.TokenReader {
	start := xml.StartElement{Name: xml.Name{Space: NSMetadata, Local: "metadata"}}
	if in == nil {
		return xmlstream.Wrap(nil, start)
	}
	info := xml.StartElement{Name: xml.Name{Local: "info"}, Attr: []xml.Attr{
		{Name: xml.Name{Local: "id"}, Value: in.ID},
		{Name: xml.Name{Local: "bytes"}, Value: strconv.Itoa(in.Bytes)},
		{Name: xml.Name{Local: "type"}, Value: in.Type},
	}}
	return xmlstream.Wrap(xmlstream.Wrap(nil, info), start)
}

// DataPayload is the data node's payload for the base64 b64.
func DataPayload(b64 string) xml.TokenReader {
	return xmlstream.Wrap(xmlstream.Token(xml.CharData(b64)), xml.StartElement{Name: xml.Name{Space: NSData, Local: "data"}})
}

// Update is the XEP-0153 element of our presence: the hash of our avatar, "" for none.
func Update(hash string) xml.TokenReader {
	var photo xml.TokenReader = xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "photo"}})
	if hash != "" {
		photo = xmlstream.Wrap(xmlstream.Token(xml.CharData(hash)), xml.StartElement{Name: xml.Name{Local: "photo"}})
	}
	return xmlstream.Wrap(photo, xml.StartElement{Name: xml.Name{Space: NSUpdate, Local: "x"}})
}

// UpdateElement reads the XEP-0153 element of a contact's presence. Photo is nil when the
// client did not say (not ready), "" when it has no avatar.
type UpdateElement struct {
	Photo *string `xml:"photo"`
}
