package push

import (
	"context"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Claims make one instance send an event's pushes: the instance that
// published it claims it before sending, and a relay publishing the same
// event again (its mark was lost) finds it claimed.
type Claims interface {
	// Claim reports whether the caller is the first to claim the event
	// (orderID, seq) within the claims' lifetime.
	Claim(ctx context.Context, orderID delivery.ID, seq int64) (bool, error)
}

// claimTTL is how long a claim lasts: beyond the outbox's horizon (10
// minutes), after which no relay publishes an event again.
const claimTTL = time.Hour

// RedisClaims keep claims in Redis, shared by every instance: SET NX with
// an expiry on {prefix}push:{order}:{seq}.
type RedisClaims struct {
	c      goredis.UniversalClient
	prefix string
}

// NewRedisClaims returns claims on c ("ordercast:" when prefix is empty);
// c stays the caller's to close.
func NewRedisClaims(c goredis.UniversalClient, prefix string) *RedisClaims {
	if prefix == "" {
		prefix = "ordercast:"
	}
	return &RedisClaims{c: c, prefix: prefix}
}

// Claim claims the event in Redis.
func (r *RedisClaims) Claim(ctx context.Context, orderID delivery.ID, seq int64) (bool, error) {
	key := fmt.Sprintf("%spush:%s:%d", r.prefix, orderID, seq)
	ok, err := r.c.SetNX(ctx, key, 1, claimTTL).Result()
	if err != nil {
		return false, fmt.Errorf("push claim: %w", err)
	}
	return ok, nil
}

// memoryClaims are the claims of a single instance (no Redis): its own
// relay may publish an event again when its mark was lost.
type memoryClaims struct {
	mu     sync.Mutex
	max    int
	now    func() time.Time
	claims map[claimKey]time.Time // when each expires
}

type claimKey struct {
	order delivery.ID
	seq   int64
}

// maxMemoryClaims bounds the claims kept in memory; past it, expired ones
// are swept, and if none had expired the event is sent unclaimed (a
// duplicate at worst).
const maxMemoryClaims = 100_000

func newMemoryClaims(now func() time.Time) *memoryClaims {
	return &memoryClaims{max: maxMemoryClaims, now: now, claims: make(map[claimKey]time.Time)}
}

func (m *memoryClaims) Claim(_ context.Context, orderID delivery.ID, seq int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	k := claimKey{orderID, seq}
	if exp, ok := m.claims[k]; ok && now.Before(exp) {
		return false, nil
	}
	if len(m.claims) >= m.max {
		for k, exp := range m.claims {
			if !now.Before(exp) {
				delete(m.claims, k)
			}
		}
		if len(m.claims) >= m.max {
			return true, nil
		}
	}
	m.claims[k] = now.Add(claimTTL)
	return true, nil
}
