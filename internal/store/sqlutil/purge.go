package sqlutil

import (
	"context"
	"time"

	"github.com/ordercast/ordercast/internal/auth"
)

// RefreshPurgeInterval and RefreshPurgeBatch pace the stores' purge of
// refresh tokens of no more use: a round at start and then every hour,
// each in DELETEs of at most a batch, so that no write waits long behind
// one (SQLite has a single writer).
const (
	RefreshPurgeInterval = time.Hour
	RefreshPurgeBatch    = 1000
)

// RevokedRefreshGrace is how long revoked refresh tokens are kept: a
// client that raced the revocation (a reuse, two logouts) gets the same
// answer as one before it, token_reused rather than an unknown token.
const RevokedRefreshGrace = time.Hour

// Periodic runs round in a goroutine at once and then every interval,
// until the returned stop is called; stop ends the context of a round in
// progress and waits for it.
func Periodic(interval time.Duration, round func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			round(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// PurgeRounds is one round of purge, a store's PurgeRefreshTokens: batches
// of RefreshPurgeBatch until one deletes fewer or ctx ends. It returns
// how many were deleted; a failed batch ends the round (the next round
// tries again) with its error.
func PurgeRounds(ctx context.Context, purge func(ctx context.Context, now time.Time, limit int) (int, error)) (int, error) {
	total := 0
	for ctx.Err() == nil {
		n, err := purge(ctx, Now(), RefreshPurgeBatch)
		total += n
		if err != nil || n < RefreshPurgeBatch {
			return total, err
		}
	}
	return total, ctx.Err()
}

// PastHorizon adapts a store's PurgeRevocations to PurgeRounds: it purges
// the revocations older than auth.RevocationHorizon, whose sessions hold
// no access token that could still pass.
func PastHorizon(purge func(ctx context.Context, before time.Time, limit int) (int, error)) func(ctx context.Context, now time.Time, limit int) (int, error) {
	return func(ctx context.Context, now time.Time, limit int) (int, error) {
		return purge(ctx, now.Add(-auth.RevocationHorizon), limit)
	}
}
