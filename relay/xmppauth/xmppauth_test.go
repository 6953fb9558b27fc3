package xmppauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"mellium.im/xmpp/jid"
)

const secret = "0123456789abcdef0123456789abcdef"

func TestJWT(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	j, err := NewJWT([]byte(secret), 0, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	ir, err := j.InitialResponse(context.Background(), jid.MustParse("alice@example.org/res"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(ir), "\x00")
	if len(parts) != 3 || parts[0] != "" || parts[1] != "alice" {
		t.Fatalf("PLAIN response %q, want \\0alice\\0<jwt>", ir)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(parts[2], claims, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("minted JWT does not verify: %v", err)
	}
	if claims["jid"] != "alice@example.org" || claims["exp"] != float64(now.Add(DefaultJWTTTL).Unix()) {
		t.Errorf("claims %v", claims)
	}

	bad := []struct {
		name   string
		secret string
		ttl    time.Duration
	}{{"short secret", "short", 0}, {"negative TTL", secret, -time.Second}}
	for _, tc := range bad {
		if _, err := NewJWT([]byte(tc.secret), tc.ttl, nil); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, err := j.InitialResponse(context.Background(), jid.MustParse("example.org")); err == nil {
		t.Error("a JID without localpart got credentials")
	}
}

func TestOAuthBearer(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	o, err := NewOAuthBearer(OAuthBearerOptions{ClientID: "sparkweb", ClientSecret: "client-secret-0123", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(o)
	defer ts.Close()
	mint := func(user string) string {
		ir, err := o.InitialResponse(context.Background(), jid.MustParse(user))
		if err != nil {
			t.Fatal(err)
		}
		prefix := "n,a=" + jid.MustParse(user).Bare().String() + ",\x01auth=Bearer "
		if !strings.HasPrefix(string(ir), prefix) || !strings.HasSuffix(string(ir), "\x01\x01") {
			t.Fatalf("OAUTHBEARER response %q", ir)
		}
		return strings.TrimSuffix(strings.TrimPrefix(string(ir), prefix), "\x01\x01")
	}
	check := func(tok, id, sec string) int {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/oauthbearer/"+tok, nil)
		if id != "" {
			req.SetBasicAuth(id, sec)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	used := mint("alice@example.org/x")
	if got := check(used, "sparkweb", "client-secret-0123"); got != 200 {
		t.Fatalf("fresh token: %d, want 200", got)
	}
	expired := mint("alice@example.org")
	now = now.Add(DefaultBearerTTL)
	tests := []struct {
		name, tok, id, secret string
		want                  int
	}{
		{"used twice", used, "sparkweb", "client-secret-0123", 404},
		{"expired", expired, "sparkweb", "client-secret-0123", 404},
		{"unknown", "bm90IGEgdG9rZW4", "sparkweb", "client-secret-0123", 404},
		{"no client credentials", mint("bob@example.org"), "", "", 401},
		{"wrong client secret", mint("bob@example.org"), "sparkweb", "guess", 401},
	}
	for _, tc := range tests {
		if got := check(tc.tok, tc.id, tc.secret); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if _, err := o.InitialResponse(context.Background(), jid.MustParse("a=b@example.org")); err == nil {
		t.Error("a localpart with '=' was put in a GS2 header")
	}
	if _, err := NewOAuthBearer(OAuthBearerOptions{ClientID: "sparkweb", ClientSecret: "short"}); err == nil {
		t.Error("short client secret accepted")
	}
}
