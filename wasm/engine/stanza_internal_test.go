package engine

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/sparkweb/sparkweb/wasm/protocol"
)

// stream is what mellium hands a handler: the rest of the stanza to read, and a writer.
type stream struct {
	*xml.Decoder
	*xml.Encoder
}

// TestHandleUntrusted feeds stanzas no server should send, and checks each ends as an error event
// or a bounded value: never a crash, never the session's end.
func TestHandleUntrusted(t *testing.T) {
	tests := []struct {
		name      string
		stanza    string
		wantEvent string
		check     func(t *testing.T, data json.RawMessage)
	}{
		{
			name:      "invalid JID",
			stanza:    `<message xmlns="jabber:client" from="a@b@c" type="chat"><body>x</body></message>`,
			wantEvent: "error",
			check: func(t *testing.T, d json.RawMessage) {
				var e protocol.Error
				_ = json.Unmarshal(d, &e)
				if e.Code != protocol.CodeBadRequest || !strings.Contains(e.Message, "malformed message") {
					t.Errorf("error = %+v", e)
				}
			},
		},
		{
			name:      "deeply nested unknown payload is skipped",
			stanza:    `<message xmlns="jabber:client" from="bob@localhost">` + strings.Repeat("<x>", 20000) + strings.Repeat("</x>", 20000) + `</message>`,
			wantEvent: "",
		},
		{
			name:      "oversized status",
			stanza:    `<presence xmlns="jabber:client" from="bob@localhost/x"><status>` + strings.Repeat("é", 1<<19) + `</status><idle xmlns="urn:xmpp:idle:1" since="not a time"/></presence>`,
			wantEvent: "presence",
			check: func(t *testing.T, d json.RawMessage) {
				var p protocol.Presence
				_ = json.Unmarshal(d, &p)
				if len(p.Status) > maxStatus || !strings.HasPrefix(p.Status, "éé") || p.IdleSince != "" {
					t.Errorf("status of %d bytes, idle %q", len(p.Status), p.IdleSince)
				}
			},
		},
		{
			name:      "bad presence type",
			stanza:    `<presence xmlns="jabber:client" from="bob@localhost/x" type="dance"/>`,
			wantEvent: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var events []protocol.Event
			e := New(Config{Emit: func(_ string, b []byte) {
				var ev struct {
					Event string          `json:"event"`
					Data  json.RawMessage `json:"data"`
				}
				_ = json.Unmarshal(b, &ev)
				mu.Lock()
				events = append(events, protocol.Event{Event: ev.Event, Data: ev.Data})
				mu.Unlock()
			}})
			d := xml.NewDecoder(strings.NewReader(tt.stanza))
			tok, err := d.Token()
			if err != nil {
				t.Fatal(err)
			}
			start := tok.(xml.StartElement)
			if err := e.handle(stream{d, xml.NewEncoder(io.Discard)}, &start); err != nil {
				t.Fatalf("handle ended the session: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.wantEvent == "" {
				if len(events) != 0 {
					t.Errorf("events = %+v, want none", events)
				}
				return
			}
			if len(events) != 1 || events[0].Event != tt.wantEvent {
				t.Fatalf("events = %+v, want one %q", events, tt.wantEvent)
			}
			if tt.check != nil {
				tt.check(t, events[0].Data.(json.RawMessage))
			}
		})
	}
}

func TestAdvances(t *testing.T) {
	tests := []struct {
		from, to string
		want     bool
	}{
		{"pending", "sent", true},
		{"sent", "delivered", true},
		{"delivered", "read", true},
		{"pending", "read", true},
		{"read", "delivered", false},
		{"delivered", "sent", false},
		{"read", "read", false},
		{"sent", "error", true},
		{"delivered", "error", false},
		{"error", "error", false},
	}
	for _, tt := range tests {
		if got := advances(tt.from, tt.to); got != tt.want {
			t.Errorf("advances(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestCleanReactions(t *testing.T) {
	many := make([]string, 0, 1000)
	for i := range 1000 {
		many = append(many, string(rune('a'+i%26))+strings.Repeat("!", i%3))
	}
	tests := []struct {
		in   []string
		want int
	}{
		{[]string{"👍", "👍", "", "\xff", strings.Repeat("x", 65)}, 1},
		{many, maxReactions},
		{nil, 0},
	}
	for _, tt := range tests {
		if got := cleanReactions(tt.in); len(got) != tt.want {
			t.Errorf("cleanReactions kept %d, want %d", len(got), tt.want)
		}
	}
}
