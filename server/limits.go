package server

import (
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
)

// The rate limits of API.md ("Limits") on REST: each refusal is 429
// rate_limited with Retry-After (writeError), before the handler runs, so
// a refused request stores nothing. The order service spends the chat and
// position budgets itself, shared by REST and the websocket frames.

// clientAddr is the client address the limits count by: the peer, or
// what trusted proxies say in X-Forwarded-For (limits.ClientAddr).
func (s *Server) clientAddr(c *fiber.Ctx) string {
	ip, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	var forwarded []string
	if len(s.cfg.TrustedProxies) > 0 {
		for _, v := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
			forwarded = append(forwarded, string(v))
		}
	}
	return limits.ClientAddr(ip, forwarded, s.cfg.TrustedProxies)
}

// limitLogin refuses a login while its address, or its address and
// email, failed too often, even with the right password; a failure (401)
// spends from both budgets, anything else nothing.
func (s *Server) limitLogin(c *fiber.Ctx) error {
	if s.cfg.Limits == nil {
		return c.Next()
	}
	var body struct {
		Email string `json:"email"`
	}
	// Only to name the bucket: a body the handler refuses counts by
	// address and an empty email.
	_ = json.Unmarshal(c.Body(), &body)
	pending, err := s.cfg.Limits.Login(s.clientAddr(c), body.Email)
	if err != nil {
		return err
	}
	failed := false
	defer func() { pending.End(failed) }()
	err = c.Next()
	failed = err != nil && delivery.ErrorCode(err) == delivery.EUNAUTHORIZED
	return err
}

// limitRegister refuses a registration beyond the address's budget; one
// that made an account or found its email taken spends from it.
func (s *Server) limitRegister(c *fiber.Ctx) error {
	if s.cfg.Limits == nil {
		return c.Next()
	}
	pending, err := s.cfg.Limits.Register(s.clientAddr(c))
	if err != nil {
		return err
	}
	counts := false
	defer func() { pending.End(counts) }()
	err = c.Next()
	counts = err == nil || delivery.ErrorCode(err) == delivery.EEMAILTAKEN
	return err
}

// limitOrders spends one of the caller's order placements.
func (s *Server) limitOrders(c *fiber.Ctx) error {
	if err := s.cfg.Limits.Order(actor(c).UserID); err != nil {
		return err
	}
	return c.Next()
}

// hijackGrace bounds the wait for fasthttp to hand over an upgraded
// connection: it skips the hijack only when the connection broke first,
// and the socket's lease must not stay counted then.
const hijackGrace = 30 * time.Second

// socketLease holds a socket's place under the connection caps from the
// handshake on.
type socketLease struct {
	lease     *limits.Lease
	unclaimed *time.Timer // releases the lease if no connection claims it
}

// holdSocket counts a socket of user, or refuses the handshake: 429
// too_many_connections or 503 unavailable, with Retry-After.
func (s *Server) holdSocket(c *fiber.Ctx, user delivery.ID) (*socketLease, error) {
	lease, err := s.cfg.Conns.Acquire(c.UserContext(), user)
	if err != nil || lease == nil {
		return nil, err
	}
	return &socketLease{lease: lease, unclaimed: time.AfterFunc(hijackGrace, lease.Release)}, nil
}

// release gives the place back: the handshake failed before the upgrade.
func (l *socketLease) release() {
	if l != nil {
		l.unclaimed.Stop()
		l.lease.Release()
	}
}

// claim ties the lease to conn, released when conn closes; false when the
// lease was already given back (conn is closed then).
func (l *socketLease) claim(conn net.Conn) (net.Conn, bool) {
	if l == nil {
		return conn, true
	}
	if !l.unclaimed.Stop() {
		_ = conn.Close()
		return nil, false
	}
	return leasedConn{Conn: conn, lease: l.lease}, true
}

// leasedConn releases its socket's lease when closed; the hub closes
// every connection it is given.
type leasedConn struct {
	net.Conn
	lease *limits.Lease
}

// NetConn is the connection under the lease, for socket options (as
// tls.Conn's).
func (c leasedConn) NetConn() net.Conn { return c.Conn }

func (c leasedConn) Close() error {
	c.lease.Release()
	return c.Conn.Close()
}

// CloseWrite keeps the half-close the hub uses when it lingers.
func (c leasedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
