package limits

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Options configure Limits; zero fields take defaults.
type Options struct {
	// Now is the clock of every bucket (time.Now when nil): tests move it
	// instead of waiting a minute.
	Now func() time.Time
	// MaxKeys bounds each map of buckets (DefaultMaxKeys when 0).
	MaxKeys int
}

// Limits are the rate limits of API.md on this instance. A nil *Limits
// limits nothing (RATE_LIMITS=off): every method admits.
type Limits struct {
	loginEmail, loginAddr, registrations *Keyed
	orders, chat, positions              *Keyed
	refused                              struct{ login, register, orders, chat, positions atomic.Uint64 }
}

// Stats counts the refusals of each limit since start.
type Stats struct {
	Login, Register, Orders, Chat, Positions uint64
}

// Stats returns the refusals so far; none for a nil *Limits.
func (l *Limits) Stats() Stats {
	if l == nil {
		return Stats{}
	}
	r := &l.refused
	return Stats{Login: r.login.Load(), Register: r.register.Load(), Orders: r.orders.Load(), Chat: r.chat.Load(), Positions: r.positions.Load()}
}

// New returns the limits of the Limits table.
func New(o Options) *Limits {
	k := func(r Rule) *Keyed { return NewKeyed(r, o.MaxKeys, o.Now) }
	return &Limits{
		loginEmail:    k(LoginPerEmail),
		loginAddr:     k(LoginPerAddr),
		registrations: k(Registrations),
		orders:        k(Orders),
		chat:          k(Chat),
		positions:     k(Positions),
	}
}

// Pending is admitted attempts whose cost is known once they are over.
type Pending []*Attempt

// End settles every attempt (see Attempt.End).
func (p Pending) End(costs bool) {
	for _, a := range p {
		a.End(costs)
	}
}

// maxEmailKey bounds the email part of a key; longer emails are invalid
// anyway, and a key must not cost what a 64 KiB body could make it.
const maxEmailKey = 254

// Login admits a login attempt from the client address addr for email.
// Only failed attempts count (End(true)), 10 a minute per address and
// email and 30 a minute per address; while either budget is spent every
// attempt is refused, a correct one too.
func (l *Limits) Login(addr, email string) (Pending, error) {
	if l == nil {
		return nil, nil
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if len(email) > maxEmailKey {
		email = email[:maxEmailKey]
	}
	byEmail, wait := l.loginEmail.Begin(addr + " " + email)
	if byEmail == nil {
		l.refused.login.Add(1)
		return nil, refuseRate(wait, "too many failed logins for this email")
	}
	byAddr, wait := l.loginAddr.Begin(addr)
	if byAddr == nil {
		byEmail.End(false)
		l.refused.login.Add(1)
		return nil, refuseRate(wait, "too many failed logins from this address")
	}
	return Pending{byEmail, byAddr}, nil
}

// Register admits a registration from addr, 10 an hour. It counts when
// End(true): when it made an account or found the email taken (both ran
// bcrypt, and the second tells whether an email is registered).
func (l *Limits) Register(addr string) (Pending, error) {
	if l == nil {
		return nil, nil
	}
	a, wait := l.registrations.Begin(addr)
	if a == nil {
		l.refused.register.Add(1)
		return nil, refuseRate(wait, "too many registrations from this address")
	}
	return Pending{a}, nil
}

// Order spends one of the user's order placements: 1 a second, 10 at once.
func (l *Limits) Order(user delivery.ID) error {
	if l == nil {
		return nil
	}
	return take(l.orders, &l.refused.orders, user, "too many orders placed")
}

// Chat spends one of the user's chat messages, REST and websocket alike:
// 5 a second, 10 at once.
func (l *Limits) Chat(user delivery.ID) error {
	if l == nil {
		return nil
	}
	return take(l.chat, &l.refused.chat, user, "too many chat messages")
}

// Position spends one of the courier's positions, REST and websocket
// alike: 2 a second, 5 at once.
func (l *Limits) Position(courier delivery.ID) error {
	if l == nil {
		return nil
	}
	return take(l.positions, &l.refused.positions, courier, "too many positions")
}

// take spends a token of user's bucket in k, counting a refusal in
// refused.
func take(k *Keyed, refused *atomic.Uint64, user delivery.ID, what string) error {
	if ok, wait := k.Take(user.String()); !ok {
		refused.Add(1)
		return refuseRate(wait, "%s", what)
	}
	return nil
}

// refuseRate is 429 rate_limited, with the wait in the message too (a
// websocket error frame has no header).
func refuseRate(wait time.Duration, format string, args ...any) *Refusal {
	r := refuse(delivery.ERATELIMITED, wait, format, args...)
	r.Err.Message += "; retry in " + r.RetryAfter() + " s"
	return r
}
