package xmppws

import "github.com/coder/websocket"

// In the browser the WebSocket API sets the headers itself, so only the subprotocol is ours.
func wsDialOptions(*DialOptions) *websocket.DialOptions {
	return &websocket.DialOptions{Subprotocols: []string{Subprotocol}}
}
