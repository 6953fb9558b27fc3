//go:build !js

package xmppws

import "github.com/coder/websocket"

func wsDialOptions(opts *DialOptions) *websocket.DialOptions {
	o := &websocket.DialOptions{Subprotocols: []string{Subprotocol}}
	if opts != nil {
		o.HTTPHeader, o.HTTPClient = opts.HTTPHeader, opts.HTTPClient
	}
	return o
}
