package sqlutil_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

// TestPurgeRounds: batches follow each other while they come back full,
// and a failed one ends the round with its error.
func TestPurgeRounds(t *testing.T) {
	full := sqlutil.RefreshPurgeBatch
	for _, tc := range []struct {
		batches   []int
		fail      bool
		wantTotal int
		wantCalls int
	}{
		{[]int{0}, false, 0, 1},
		{[]int{full, full, 5}, false, 2*full + 5, 3},
		{[]int{full, full}, true, full, 2},
	} {
		calls := 0
		total, err := sqlutil.PurgeRounds(context.Background(), func(_ context.Context, now time.Time, limit int) (int, error) {
			if limit != full || now.IsZero() {
				t.Fatalf("purge(%v, %d)", now, limit)
			}
			n := tc.batches[calls]
			calls++
			if tc.fail && calls == len(tc.batches) {
				return 0, errors.New("disk on fire")
			}
			return n, nil
		})
		if total != tc.wantTotal || calls != tc.wantCalls || (err != nil) != tc.fail {
			t.Errorf("batches %v (fail %v): %d deleted in %d calls, err %v; want %d in %d", tc.batches, tc.fail, total, calls, err, tc.wantTotal, tc.wantCalls)
		}
	}
}

// TestPeriodic: a round at once, then every interval; after stop returns,
// no round runs and the one in progress saw its context end.
func TestPeriodic(t *testing.T) {
	rounds := make(chan struct{})
	var last context.Context
	stop := sqlutil.Periodic(time.Millisecond, func(ctx context.Context) {
		last = ctx
		select {
		case rounds <- struct{}{}:
		case <-ctx.Done():
		}
	})
	for range 3 {
		select {
		case <-rounds:
		case <-time.After(10 * time.Second):
			t.Fatal("no round within 10s")
		}
	}
	stop()
	if last.Err() == nil {
		t.Error("the round's context is still live after stop")
	}
	select {
	case <-rounds:
		t.Error("a round ran after stop returned")
	default:
	}
}
