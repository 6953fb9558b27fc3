package sm

import (
	"errors"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		frame string
		want  kind
	}{
		{`<message xmlns="jabber:client" to="a@b"><body>x</body></message>`, kindStanza},
		{`<iq type='get' id='1'/>`, kindStanza},
		{"\n <presence/>", kindStanza},
		{`<r xmlns='urn:xmpp:sm:3'/>`, kindRequest},
		{`<a xmlns="urn:xmpp:sm:3" h="7"/>`, kindAck},
		{`<enabled xmlns='urn:xmpp:sm:3' id='x' resume='true'/>`, kindEnabled},
		{`<resumed xmlns='urn:xmpp:sm:3' h='3' previd='x'/>`, kindResumed},
		{`<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>`, kindFailed},
		{`<r xmlns='urn:xmpp:sm:2'/>`, kindOther}, // another version's namespace is not ours
		{`<a h="1"/>`, kindOther},
		{`<stream:features xmlns:stream="http://etherx.jabber.org/streams"/>`, kindOther},
		{`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`, kindOther},
		{`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`, kindOther},
		{`<messages/>`, kindOther},
		{``, kindOther},
		{`not xml`, kindOther},
	}
	for _, tt := range tests {
		if got := classify([]byte(tt.frame)); got != tt.want {
			t.Errorf("classify(%q) = %d, want %d", tt.frame, got, tt.want)
		}
	}
}

func TestAckAccounting(t *testing.T) {
	frames := func(n int) [][]byte {
		var f [][]byte
		for i := range n {
			f = append(f, []byte{byte('0' + i)})
		}
		return f
	}
	tests := []struct {
		name      string
		acked     uint32
		unacked   int
		ack       string
		wantDone  int
		wantAcked uint32
		wantErr   string
	}{
		{"some", 10, 5, `<a xmlns="urn:xmpp:sm:3" h="12"/>`, 2, 12, ""},
		{"all", 10, 5, `<a xmlns="urn:xmpp:sm:3" h="15"/>`, 5, 15, ""},
		{"none new", 10, 5, `<a xmlns="urn:xmpp:sm:3" h="10"/>`, 0, 10, ""},
		{"wraps at 2^32", 4294967294, 4, `<a xmlns="urn:xmpp:sm:3" h="1"/>`, 3, 1, ""},
		{"more than sent", 10, 5, `<a xmlns="urn:xmpp:sm:3" h="16"/>`, 0, 10, "only 5"},
		{"older than last", 10, 5, `<a xmlns="urn:xmpp:sm:3" h="9"/>`, 0, 10, "acknowledged"},
		{"not a number", 10, 5, `<a xmlns="urn:xmpp:sm:3" h="x"/>`, 0, 10, "bad h"},
		{"missing h", 10, 5, `<a xmlns="urn:xmpp:sm:3"/>`, 0, 10, "without h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := New(Options{})
			st.acked, st.sent, st.unacked = tt.acked, tt.acked+uint32(tt.unacked), frames(tt.unacked)
			start, err := startTag([]byte(tt.ack))
			if err != nil {
				t.Fatal(err)
			}
			done, err := st.ackLocked(start, true)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(done) != tt.wantDone || st.acked != tt.wantAcked || len(st.unacked) != tt.unacked-tt.wantDone {
				t.Errorf("acked %d (h now %d, %d left), want %d (h %d)", len(done), st.acked, len(st.unacked), tt.wantDone, tt.wantAcked)
			}
			for i, f := range done { // oldest first
				if f[0] != byte('0'+i) {
					t.Errorf("acked frame %d is %q", i, f)
				}
			}
		})
	}
}

func TestRestoreValidates(t *testing.T) {
	good := Info{JID: "alice@localhost/desk", ID: "abc", Enabled: true, Resumable: true, Sent: 7, Acked: 5, Unacked: [][]byte{[]byte("<message/>"), []byte("<presence/>")}}
	tests := []struct {
		name    string
		edit    func(*Info)
		wantErr bool
	}{
		{"good", func(*Info) {}, false},
		{"bare JID", func(i *Info) { i.JID = "alice@localhost" }, true},
		{"bad JID", func(i *Info) { i.JID = "@@" }, true},
		{"count mismatch", func(i *Info) { i.Sent = 9 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good
			tt.edit(&in)
			st, err := Restore(in, Options{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Restore err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				got := st.Info()
				if got.JID != in.JID || got.ID != in.ID || got.Sent != 7 || len(got.Unacked) != 2 || !st.Resumable() {
					t.Errorf("restored %+v from %+v", got, in)
				}
			}
		})
	}
}

func TestFailedErrorMessage(t *testing.T) {
	err := error(&FailedError{Condition: "item-not-found", Unacked: [][]byte{nil, nil}})
	if !strings.Contains(err.Error(), "item-not-found") || !strings.Contains(err.Error(), "2 unacknowledged") {
		t.Errorf("message %q", err)
	}
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Error("errors.As")
	}
}

func TestFrames(t *testing.T) {
	if got := string(resumeFrame(`a"<b`, 42)); got != `<resume xmlns="urn:xmpp:sm:3" previd="a&#34;&lt;b" h="42"/>` {
		t.Errorf("resume frame %s", got)
	}
	if got := string(ackFrame(4294967295)); got != `<a xmlns="urn:xmpp:sm:3" h="4294967295"/>` {
		t.Errorf("ack frame %s", got)
	}
}
