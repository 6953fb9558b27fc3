package engine

import "time"

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

// LockWait takes and releases the state lock and says how long taking it took: sampled while
// the engine works, its maximum bounds how long the engine held the lock at once (how long a
// tab's attach or request had to wait).
func (e *Engine) LockWait() time.Duration {
	start := time.Now()
	e.mu.Lock()
	e.mu.Unlock() //nolint:staticcheck // an empty critical section is the point
	return time.Since(start)
}

// CapsQueries says how many disco#info queries for our own caps node the engine answered: the
// server's PEP asks once per hash it does not know yet (caps.go).
func (e *Engine) CapsQueries() int { return int(e.svc.capsQueries.Load()) }
