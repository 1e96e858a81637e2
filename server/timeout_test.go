package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlite"
)

// stallingStore answers the restaurant list only when the caller gives
// up, as a store swamped by an overloaded machine.
type stallingStore struct{ app.Store }

func (stallingStore) ListRestaurants(ctx context.Context) ([]delivery.Restaurant, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestRequestPastItsDeadlineIs503: a request that outlives the server's
// bound is answered 503 unavailable with Retry-After, as any overload,
// not 500.
func TestRequestPastItsDeadlineIs503(t *testing.T) {
	e := newTestEnvOn(t, stallingStore{sqlite.OpenTest(t)}, func(cfg *app.Config) { cfg.Server.RequestTimeout = 100 * time.Millisecond })
	r := e.do("GET", "/api/v1/restaurants", "", nil)
	if r.Status != 503 || r.errorCode(t) != delivery.EUNAVAILABLE || r.Header.Get("Retry-After") == "" {
		t.Fatalf("a request past its deadline: %d %v %s", r.Status, r.Header, r.Body)
	}
}
