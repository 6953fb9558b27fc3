package main

import (
	"io"
	"strings"
	"testing"
)

func TestPushFlags(t *testing.T) {
	base := []string{"--upstream", "ws://xmpp.internal:5280/xmpp-websocket", "--domain", "example.org"}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantAddr string // "" means push off
		wantErr  string
	}{
		{"off by default", nil, nil, "", ""},
		{"secret turns it on, host from upstream", []string{"--push-component-secret", "s"}, nil, "xmpp.internal:5347", ""},
		{"from the environment", nil, map[string]string{"SPARKWEB_PUSH_COMPONENT_SECRET": "s", "SPARKWEB_PUSH_COMPONENT_PORT": "5275"}, "xmpp.internal:5275", ""},
		{"explicit host", []string{"--push-component-secret", "s", "--push-component-host", "10.0.0.5"}, nil, "10.0.0.5:5347", ""},
		{"host without secret", []string{"--push-component-host", "10.0.0.5"}, nil, "", "push-component-secret: required"},
		{"bad port", []string{"--push-component-secret", "s", "--push-component-port", "70000"}, nil, "", "push-component-port 70000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(append(append([]string{}, base...), tt.args...), func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantAddr == "" && c.server.Push != nil:
				t.Errorf("push on: %+v", c.server.Push)
			case tt.wantAddr != "" && (c.server.Push == nil || c.server.Push.ComponentAddr != tt.wantAddr || c.server.Push.ComponentSecret == ""):
				t.Errorf("push = %+v, want component at %s", c.server.Push, tt.wantAddr)
			}
		})
	}
}
