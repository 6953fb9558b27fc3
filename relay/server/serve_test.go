package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// serving runs s.Serve on a loopback listener; the returned cancel starts the shutdown and the
// channel yields Serve's result.
func serving(t *testing.T, s *Server, tlsFiles *TLSFiles) (addr string, shutdown context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	finished := make(chan struct{})
	go func() { errc <- s.Serve(ctx, ln, tlsFiles); close(finished) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return ln.Addr().String(), cancel, errc
}

// TestSlowloris: a client that trickles its headers is cut after ReadHeaderTimeout instead of
// holding a connection (and a goroutine) forever.
func TestSlowloris(t *testing.T) {
	s, err := New(context.Background(), Config{Upstream: closedPortURL(t), Domain: "localhost", Logger: quiet(),
		Limits: Limits{ReadHeaderTimeout: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	addr, _, _ := serving(t, s, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		// Read until the server hangs up; a 408 or EOF both count.
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	// One header byte every 100 ms: always active, never complete.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n"))
	for {
		select {
		case d := <-closed:
			if d > 3*time.Second {
				t.Errorf("slow client held the connection %v", d)
			}
			return
		case <-tick.C:
			_, _ = c.Write([]byte("X"))
		case <-time.After(5 * time.Second):
			t.Fatal("slow client never cut off")
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	ts := startRelay(t, Config{Upstream: closedPortURL(t), Domain: "localhost"})
	for _, path := range []string{"/healthz", "/api/token", "/ws"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %s %q, want %q", path, k, got, want)
			}
		}
	}
}

// TestGracefulShutdown: with a bridge open against a real Prosody, ending Serve's context
// closes it with 1012 so the client reconnects, and Serve returns once drained.
func TestGracefulShutdown(t *testing.T) {
	p := startProsody(t)
	s, err := New(context.Background(), Config{Upstream: p.WebSocketURL, Domain: p.Domain, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	addr, shutdown, done := serving(t, s, nil)
	base := "http://" + addr
	tok := postToken(t, base, "alice", "alice pw")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(base, tok.AccessToken), &websocket.DialOptions{Subprotocols: []string{"xmpp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="`+p.Domain+`" version="1.0"/>`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(ctx); err != nil || !strings.Contains(string(msg), "<open") {
		t.Fatalf("stream open: %q %v", msg, err)
	}
	shutdown()
	var ce websocket.CloseError
	for {
		if _, _, err = c.Read(ctx); err != nil {
			break // features may arrive before the close
		}
	}
	if !errors.As(err, &ce) || ce.Code != 1012 {
		t.Errorf("client read %v, want close 1012", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting after shutdown")
	}
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	s, err := New(context.Background(), Config{Upstream: closedPortURL(t), Domain: "localhost", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	addr, _, _ := serving(t, s, &TLSFiles{CertFile: certFile, KeyFile: keyFile})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("HTTPS healthz: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	// Plain HTTP on the TLS port gets no page.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if strings.Contains(line, "200") {
		t.Errorf("plain HTTP answered %q", line)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a pool trusting it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
