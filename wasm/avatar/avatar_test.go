package avatar

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"mellium.im/xmlstream"
)

var png = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		hash    string
		typ     string
		wantErr error
	}{
		{"png", png, "", "image/png", nil},
		{"png with its hash", png, Hash(png), "image/png", nil},
		{"jpeg", []byte("\xff\xd8\xff\xe0JFIF"), "", "image/jpeg", nil},
		{"gif", []byte("GIF89a\x01\x00"), "", "image/gif", nil},
		{"webp", []byte("RIFF\x10\x00\x00\x00WEBPVP8 rest"), "", "image/webp", nil},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), "", "", ErrType},
		{"html", []byte("<html><script>x</script>"), "", "", ErrType},
		{"empty", nil, "", "", ErrType},
		{"wrong hash", png, Hash([]byte("other")), "", ErrHash},
		{"too large", append(append([]byte{}, png...), make([]byte, MaxBytes)...), "", "", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, err := Check(tt.data, tt.hash)
			if !errors.Is(err, tt.wantErr) || typ != tt.typ {
				t.Errorf("Check = %q, %v; want %q, %v", typ, err, tt.typ, tt.wantErr)
			}
		})
	}
}

func TestValidHash(t *testing.T) {
	for h, want := range map[string]bool{
		Hash(png): true, strings.ToUpper(Hash(png)): false, "current": false, "": false,
		Hash(png)[:39] + "g": false,
	} {
		if ValidHash(h) != want {
			t.Errorf("ValidHash(%q) = %v", h, !want)
		}
	}
}

func TestPayloads(t *testing.T) {
	tests := []struct {
		name string
		r    xml.TokenReader
		want string
	}{
		{"metadata", MetadataPayload(&Info{ID: "ab", Bytes: 12, Type: "image/png"}), `<metadata xmlns="urn:xmpp:avatar:metadata"><info id="ab" bytes="12" type="image/png"></info></metadata>`},
		{"no avatar", MetadataPayload(nil), `<metadata xmlns="urn:xmpp:avatar:metadata"></metadata>`},
		{"data", DataPayload("aGk="), `<data xmlns="urn:xmpp:avatar:data">aGk=</data>`},
		{"update", Update("ab"), `<x xmlns="vcard-temp:x:update"><photo>ab</photo></x>`},
		{"update none", Update(""), `<x xmlns="vcard-temp:x:update"><photo></photo></x>`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		enc := xml.NewEncoder(&buf)
		if _, err := xmlstream.Copy(enc, tt.r); err != nil {
			t.Fatal(err)
		}
		_ = enc.Flush()
		if buf.String() != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, buf.String(), tt.want)
		}
	}
}

func TestReadMetadata(t *testing.T) {
	var it MetadataItem
	in := `<item id="h1" xmlns="http://jabber.org/protocol/pubsub"><metadata xmlns="urn:xmpp:avatar:metadata">` +
		`<info id="h0" bytes="9" type="image/png" url="https://example.org/a.png"/><info id="h1" bytes="12" type="image/png"/></metadata></item>`
	if err := xml.Unmarshal([]byte(in), &it); err != nil {
		t.Fatal(err)
	}
	got, ok := it.Metadata.Find("")
	if !ok || got.ID != "h1" || got.Bytes != 12 {
		t.Errorf("Find = %+v, %v: want the info held in PEP", got, ok)
	}
	if _, ok := it.Metadata.Find("h0"); ok {
		t.Error("Find returned a URL-only format")
	}
	var u UpdateElement
	_ = xml.Unmarshal([]byte(`<x xmlns="vcard-temp:x:update"><photo/></x>`), &u)
	if u.Photo == nil || *u.Photo != "" {
		t.Errorf("empty photo = %v, want a pointer to \"\"", u.Photo)
	}
}
