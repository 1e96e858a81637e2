// Package limits holds the abuse limits of API.md ("Limits"): token
// buckets per key for logins, registrations, order placements, chat
// messages and courier positions; the gate that bounds password hashing;
// and the caps on sockets per user and per instance (conns.go).
//
// Buckets live in memory, one set per instance. Each map of buckets is
// bounded: a bucket left alone until it is full again is forgotten (that
// loses nothing), and past MaxKeys the least recently used one goes, so
// that a caller cycling emails or addresses cannot grow memory without
// bound.
package limits

import (
	"container/list"
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Rule is a token bucket: Burst events at once, refilled at Rate a second.
type Rule struct {
	Rate  rate.Limit
	Burst int
}

// per returns a rule of n events per period, n at once.
func per(n int, period time.Duration) Rule {
	return Rule{Rate: rate.Every(period / time.Duration(n)), Burst: n}
}

// The Limits table of API.md.
var (
	LoginPerEmail = per(10, time.Minute) // failed logins per (client address, email)
	LoginPerAddr  = per(30, time.Minute) // failed logins per client address
	Registrations = per(10, time.Hour)   // per client address
	Orders        = Rule{Rate: 1, Burst: 10}
	Chat          = Rule{Rate: 5, Burst: 10}
	Positions     = Rule{Rate: 2, Burst: 5}
)

// DefaultMaxKeys bounds each map of buckets: about 300 bytes a key, so
// some 20 MB at worst.
const DefaultMaxKeys = 1 << 16

// Refusal is a domain error that says when to try again: a 429 or 503
// whose Retry-After the server sets from After.
type Refusal struct {
	Err   *delivery.Error
	After time.Duration
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// RetryAfter is After in whole seconds, rounded up, at least 1: the value
// of the Retry-After header.
func (r *Refusal) RetryAfter() string {
	return strconv.Itoa(max(1, int(math.Ceil(r.After.Seconds()))))
}

func refuse(code string, after time.Duration, format string, args ...any) *Refusal {
	return &Refusal{Err: delivery.Errorf(code, format, args...), After: after}
}

// Keyed is a token bucket per key, all with one Rule.
type Keyed struct {
	rule Rule
	max  int
	now  func() time.Time
	// full is how long an untouched bucket takes to fill up from empty;
	// one untouched that long is as good as new and is forgotten.
	full time.Duration

	mu  sync.Mutex
	m   map[string]*list.Element
	lru list.List // of *bucket, most recently used first
}

type bucket struct {
	key  string
	lim  *rate.Limiter
	used time.Time
	// pending counts attempts admitted and not yet settled (Attempt): each
	// holds a token back from the others until it is known whether it
	// costs one.
	pending int
}

// NewKeyed returns buckets of rule, at most maxKeys of them (DefaultMaxKeys
// when 0), on the clock now (time.Now when nil).
func NewKeyed(rule Rule, maxKeys int, now func() time.Time) *Keyed {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if now == nil {
		now = time.Now
	}
	full := time.Duration(float64(rule.Burst) / float64(rule.Rate) * float64(time.Second))
	return &Keyed{rule: rule, max: maxKeys, now: now, full: full, m: make(map[string]*list.Element)}
}

// Take spends a token of key's bucket. When none is left it spends
// nothing and returns how long until there is one.
func (k *Keyed) Take(key string) (ok bool, wait time.Duration) {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.bucket(key, now)
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	return false, k.wait(b, now)
}

// Begin admits an attempt whose cost is known only once it is over (a
// login costs a token when it fails): it is admitted when key's bucket
// holds a token that no other pending attempt holds back, and settled
// with End. When refused, it returns how long until a token is free.
func (k *Keyed) Begin(key string) (*Attempt, time.Duration) {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.bucket(key, now)
	if b.lim.TokensAt(now)-float64(b.pending) < 1 {
		return nil, k.wait(b, now)
	}
	b.pending++
	return &Attempt{k: k, b: b}, 0
}

// Attempt is one admitted attempt of Begin.
type Attempt struct {
	k    *Keyed
	b    *bucket
	once sync.Once
}

// End settles the attempt: when costs, it spends its token. A nil
// Attempt (limits off) does nothing.
func (a *Attempt) End(costs bool) {
	if a == nil {
		return
	}
	a.once.Do(func() {
		now := a.k.now()
		a.k.mu.Lock()
		defer a.k.mu.Unlock()
		a.b.pending--
		if costs {
			a.b.lim.AllowN(now, 1)
		}
		// Touched again: the bucket may have been evicted meanwhile (the
		// key cap), in which case it is settled and dropped with this.
		if e, ok := a.k.m[a.b.key]; ok && e.Value == a.b {
			a.b.used = now
			a.k.lru.MoveToFront(e)
		}
	})
}

// wait is how long until b holds a token beyond those held back.
func (k *Keyed) wait(b *bucket, now time.Time) time.Duration {
	missing := 1 - (b.lim.TokensAt(now) - float64(b.pending))
	return time.Duration(missing / float64(k.rule.Rate) * float64(time.Second))
}

// bucket returns key's bucket, made full when new, after forgetting the
// buckets that refilled. Callers hold mu.
func (k *Keyed) bucket(key string, now time.Time) *bucket {
	k.forget(now)
	if e, ok := k.m[key]; ok {
		b := e.Value.(*bucket)
		b.used = now
		k.lru.MoveToFront(e)
		return b
	}
	if len(k.m) >= k.max {
		// Full of recently used keys: drop the least recent one, whose
		// bucket starts over if it comes back.
		old := k.lru.Back()
		delete(k.m, old.Value.(*bucket).key)
		k.lru.Remove(old)
	}
	b := &bucket{key: key, lim: rate.NewLimiter(k.rule.Rate, k.rule.Burst), used: now}
	k.m[key] = k.lru.PushFront(b)
	return b
}

// forget drops the least recently used buckets that have refilled since
// their last use: amortized constant time, no sweeper needed.
func (k *Keyed) forget(now time.Time) {
	for e := k.lru.Back(); e != nil; e = k.lru.Back() {
		b := e.Value.(*bucket)
		if b.pending > 0 || now.Sub(b.used) < k.full {
			return
		}
		delete(k.m, b.key)
		k.lru.Remove(e)
	}
}

// Len is the number of buckets held.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}
