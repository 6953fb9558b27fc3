package xmppws

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// peer is an in-process RFC 7395 server end: it sends the given frames, then records what it
// receives until the client goes away.
func peer(t *testing.T, send []string) (url string, got func() []string) {
	t.Helper()
	var mu sync.Mutex
	var frames []string
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{Subprotocol}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for _, f := range send {
			if err := ws.Write(r.Context(), websocket.MessageText, []byte(f)); err != nil {
				return
			}
		}
		for {
			_, b, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			mu.Lock()
			frames = append(frames, string(b))
			mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), func() []string {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("peer did not finish")
		}
		mu.Lock()
		defer mu.Unlock()
		return frames
	}
}

func TestHooks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url, got := peer(t, []string{`<r/>`, `<message><body>1</body></message>`, `<bad/>`, `<presence/>`})
	c, err := Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	var seen, sending []string
	c.SetHooks(Hooks{
		Received: func(elem []byte) (bool, error) {
			seen = append(seen, string(elem))
			switch string(elem) {
			case `<r/>`:
				return false, c.WriteFrame([]byte(`<a h="0"/>`)) // swallowed and answered below XMPP
			case `<bad/>`:
				return false, boom
			}
			return true, nil
		},
		Sending: func(elem []byte) { sending = append(sending, string(elem)) },
	})

	// The reader sees the message, whole, but not the swallowed <r/>; then the hook's error ends
	// the stream for good.
	b, err := io.ReadAll(io.LimitReader(readerFunc(c.Read), int64(len(`<message><body>1</body></message>`))))
	if err != nil || string(b) != `<message><body>1</body></message>` {
		t.Fatalf("read %q, %v", b, err)
	}
	for range 2 {
		if _, err := c.Read(make([]byte, 10)); !errors.Is(err, boom) {
			t.Fatalf("read after the hook failed: %v, want boom", err)
		}
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done not closed after the stream ended")
	}

	if _, err := c.Write([]byte(`<message><bo`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(`dy>2</body></message>`)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil && !strings.Contains(err.Error(), "close") {
		t.Logf("close: %v", err)
	}
	want := []string{`<a h="0"/>`, `<message xmlns="jabber:client"><body>2</body></message>`}
	frames := got()
	if len(frames) < 2 || frames[0] != want[0] || frames[1] != want[1] {
		t.Errorf("server received %q, want %q first", frames, want)
	}
	if len(sending) != 1 || sending[0] != want[1] {
		t.Errorf("Sending saw %q, want only the framed message (WriteFrame bypasses it)", sending)
	}
	if len(seen) != 3 {
		t.Errorf("Received saw %q, want the three frames up to the failing one", seen)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestSendFailedAndCloseNow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url, _ := peer(t, nil)
	c, err := Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	c.SetHooks(Hooks{SendFailed: func(elem []byte) { failed = append(failed, string(elem)) }})
	if err := c.CloseNow(); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if _, err := c.Write([]byte(`<presence/>`)); err == nil {
		t.Fatal("write after CloseNow succeeded")
	}
	if len(failed) != 1 || failed[0] != `<presence xmlns="jabber:client"/>` {
		t.Errorf("SendFailed saw %q", failed)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("read after CloseNow succeeded")
	}
}

func TestReadDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url, _ := peer(t, nil)
	c, err := Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}
