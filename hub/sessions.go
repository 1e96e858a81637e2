package hub

import (
	"math"
	"time"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/wire"
)

// setClaims keeps what the connection needs of a verified token, at the
// handshake and on every auth frame: when it expires, and its session,
// which may change with a token of another session of the same user. A
// token with no expiry (a viewer's while its order is active) expires
// when an event of its channel says so (expireBy).
func (c *client) setClaims(claims auth.Claims) {
	exp := int64(math.MaxInt64)
	if !claims.ExpiresAt.IsZero() {
		exp = claims.ExpiresAt.UnixNano()
	}
	c.exp.Store(exp)
	sid := claims.SessionID
	c.sid.Store(&sid)
	c.sidUnchecked.Store(true) // after the sid: the sweeper reads this one
}

// session is the session of the connection's current token.
func (c *client) session() string {
	if p := c.sid.Load(); p != nil {
		return *p
	}
	return ""
}

// CloseSession closes every connection of session sid with 4001, as for
// an expired token: the session ended (logout, a reused refresh token, an
// admin). Its client's refresh then fails, and it signs out. It returns
// how many connections it closed.
func (h *Hub) CloseSession(sid string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for c := range h.clients {
		if c.session() == sid && h.closeEnded(c) {
			n++
		}
	}
	return n
}

// closeEnded closes c, whose session ended, unless it is closing already;
// h.mu is held.
func (h *Hub) closeEnded(c *client) bool {
	if c.closing() {
		return false
	}
	h.stats.expired.Add(1)
	c.closeWith(wire.ReasonSessionEnded)
	return true
}

// expireBy brings the connection's expiry forward to at (Unix ms), never
// back: a tracked order ended, and its links expire then. The sweeper
// closes the connection with 4001 once it passed.
func (c *client) expireBy(at int64) {
	at *= int64(time.Millisecond)
	for {
		cur := c.exp.Load()
		if cur <= at || c.exp.CompareAndSwap(cur, at) {
			return
		}
	}
}
