package engine

// DropConnection closes the WebSocket under the session without ending the XMPP stream, as a
// failing network does. Tests use it to inject faults.
func (e *Engine) DropConnection() {
	e.mu.Lock()
	c := e.conn
	e.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// ForgetStream drops the stream management state, so the next reconnect logs in afresh as it
// must when the server no longer holds the session.
func (e *Engine) ForgetStream() {
	e.mu.Lock()
	e.sm = nil
	e.mu.Unlock()
}
