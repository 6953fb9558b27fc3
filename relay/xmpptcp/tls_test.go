package xmpptcp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"mellium.im/xmpp/jid"

	"github.com/sparkweb/sparkweb/testenv"
	"github.com/sparkweb/sparkweb/wasm/xmppws"
)

// testPKI makes a CA and a certificate for "localhost" signed by it, written as PEM files.
func testPKI(t *testing.T) (certFile, keyFile string, cert tls.Certificate, pool *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "localhost.crt"), filepath.Join(dir, "localhost.key")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	return certFile, keyFile, cert, pool
}

// tlsProxy terminates direct TLS (as an xmpps port or a load balancer does) in front of a
// plain port.
func tlsProxy(t *testing.T, cert tls.Certificate, backend string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				go io.Copy(b, c)
				io.Copy(c, b)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestTLS logs in to Prosody over STARTTLS and over direct TLS, verified with a private CA,
// and checks that an unverifiable server is refused.
func TestTLS(t *testing.T) {
	certFile, keyFile, cert, pool := testPKI(t)
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Env: []string{"PROSODY_TLS_CERT=" + certFile, "PROSODY_TLS_KEY=" + keyFile}})
	p.AddUser(t, "alice", "alice pw")
	starttls := "xmpp://" + p.C2SAddr
	direct := "xmpps://" + tlsProxy(t, cert, p.C2SAddr)
	trusted := &tls.Config{RootCAs: pool}

	tests := []struct {
		name, url, domain string
		tls               *tls.Config
		ok                bool
	}{
		{"STARTTLS", starttls, "localhost", trusted, true},
		{"direct TLS", direct, "localhost", trusted, true},
		{"STARTTLS, unknown CA", starttls, "localhost", nil, false},
		{"direct TLS, unknown CA", direct, "localhost", nil, false},
		{"direct TLS, certificate for another domain", direct, "example.org", trusted, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			c, err := Dial(ctx, tc.url, Options{Domain: tc.domain, TLSConfig: tc.tls})
			if err != nil {
				if tc.ok {
					t.Fatal(err)
				}
				return
			}
			defer c.Close(1000, "")
			user := jid.MustParse("alice@localhost/tls")
			sess, err := xmppws.Login(ctx, NetConn(c), xmppws.LoginConfig{JID: user, Password: "alice pw"})
			if !tc.ok {
				if err == nil {
					sess.Close()
					t.Fatal("logged in to a server the relay cannot verify")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			if got := sess.LocalAddr(); !got.Equal(user) {
				t.Errorf("bound %v", got)
			}
		})
	}

	t.Run("client never sees STARTTLS", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		c, err := Dial(ctx, starttls, Options{Domain: "localhost", TLSConfig: trusted})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(1000, "")
		if err := c.Write(ctx, websocket.MessageText, []byte(`<open xmlns="`+NSFraming+`" to="localhost" version="1.0"/>`)); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"<open ", "features"} {
			_, msg, err := c.Read(ctx)
			if err != nil || !strings.Contains(string(msg), want) {
				t.Fatalf("read %q, %v; want %s", msg, err, want)
			}
			if strings.Contains(string(msg), "starttls") || (want == "features" && !strings.Contains(string(msg), "mechanisms")) {
				t.Errorf("client saw %s", msg)
			}
		}
	})
}

// TestIsLoopback pins which hosts may be reached over xmpp:// without STARTTLS.
func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{{"127.0.0.1", true}, {"::1", true}, {"localhost", true}, {"127.1.2.3", true}, {"10.0.0.1", false}, {"xmpp.example.org", false}}
	for _, tc := range tests {
		if got := isLoopback(tc.host); got != tc.want {
			t.Errorf("isLoopback(%q) = %v", tc.host, got)
		}
	}
}
