package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"
)

// ErrNoInternal is returned by ServeInternal when the relay has no internal endpoint (the
// upstream authentication mode is not oauthbearer).
var ErrNoInternal = errors.New("server: no internal endpoint in this upstream auth mode")

// InternalPath is where the XMPP server checks a bearer token: GET InternalPath + token.
// Prosody: oauth_url = "https://127.0.0.1:PORT/oauthbearer/{{password}}".
const InternalPath = "/oauthbearer/"

// HasInternal reports whether the relay has an internal endpoint to serve (oauthbearer mode).
func (s *Server) HasInternal() bool { return s.internal != nil }

// ServeInternal serves the bearer-token check for the XMPP server on ln, a loopback listener,
// until ctx ends. It speaks HTTPS with a certificate made up at start: Prosody's
// mod_auth_oauthbearer calls its URL with LuaSec's https.request, which always does TLS and
// never verifies the peer; the loopback address is what keeps the endpoint private.
func (s *Server) ServeInternal(ctx context.Context, ln net.Listener) error {
	if s.internal == nil {
		return ErrNoInternal
	}
	if ip, _, err := net.SplitHostPort(ln.Addr().String()); err != nil || !net.ParseIP(ip).IsLoopback() {
		return fmt.Errorf("server: internal endpoint %s must listen on loopback", ln.Addr())
	}
	cert, err := throwawayCert()
	if err != nil {
		return fmt.Errorf("server: internal endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(InternalPath, s.internal)
	hs := &http.Server{
		Handler:           requestIDs(mux),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: internal endpoint: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	return nil
}

// throwawayCert makes a self-signed P-256 certificate for 127.0.0.1 and ::1.
func throwawayCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "sparkweb internal"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
