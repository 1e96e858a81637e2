// Package locationtest is the contract of delivery.LocationStore as tests,
// for the in-memory store and the Redis one alike.
package locationtest

import (
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Clock is a store's clock in the suite: it stands still unless moved.
type Clock struct{ ms atomic.Int64 }

// NewClock returns a clock at the real time now.
func NewClock() *Clock {
	c := &Clock{}
	c.ms.Store(time.Now().UnixMilli())
	return c
}

// Now is the clock's time, for the store.
func (c *Clock) Now() time.Time { return time.UnixMilli(c.ms.Load()) }

// Ms is the clock's time in milliseconds, plus d.
func (c *Clock) Ms(d time.Duration) int64 { return c.ms.Load() + d.Milliseconds() }

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// Run runs the contract suite. open returns a new, empty store on clock
// for one subtest and arranges for it to be closed when that test ends.
func Run(t *testing.T, open func(t *testing.T, clock *Clock) delivery.LocationStore) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, s delivery.LocationStore, c *Clock)
	}{
		{"PutGet", testPutGet},
		{"NewestWins", testNewestWins},
		{"ConcurrentPuts", testConcurrentPuts},
		{"Expiry", testExpiry},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := NewClock()
			tt.fn(t, open(t, c), c)
		})
	}
}

func f64(v float64) *float64 { return &v }

func put(t *testing.T, s delivery.LocationStore, loc delivery.Location, want bool) *delivery.Location {
	t.Helper()
	prev, ok, err := s.Put(t.Context(), loc)
	if err != nil || ok != want {
		t.Fatalf("Put(%+v) = %v, %v; want %v", loc, ok, err, want)
	}
	if !ok && prev != nil {
		t.Fatalf("Put(%+v) refused, yet replaced %+v", loc, prev)
	}
	return prev
}

// putAfter puts loc, wanting it stored over want (nil: none).
func putAfter(t *testing.T, s delivery.LocationStore, loc delivery.Location, want *delivery.Location) {
	t.Helper()
	if prev := put(t, s, loc, true); !reflect.DeepEqual(prev, want) {
		t.Fatalf("Put(%+v) replaced %+v, want %+v", loc, prev, want)
	}
}

func wantLast(t *testing.T, s delivery.LocationStore, courier delivery.ID, want delivery.Location, wantOK bool) {
	t.Helper()
	got, ok, err := s.Get(t.Context(), courier)
	if err != nil || ok != wantOK || !reflect.DeepEqual(got, want) {
		t.Fatalf("Get(%s) = %+v, %v, %v; want %+v, %v", courier, got, ok, err, want, wantOK)
	}
}

func testPutGet(t *testing.T, s delivery.LocationStore, c *Clock) {
	wantLast(t, s, 1, delivery.Location{}, false)
	full := delivery.Location{CourierID: 1, Lat: 52.52, Lng: -13.405, Heading: f64(90), Speed: f64(0), Ts: c.Ms(0)}
	putAfter(t, s, full, nil)
	wantLast(t, s, 1, full, true)
	bare := delivery.Location{CourierID: 2, Lat: -90, Lng: 180, Ts: c.Ms(-time.Second)}
	putAfter(t, s, bare, nil)
	wantLast(t, s, 2, bare, true)
	wantLast(t, s, 1, full, true)
	// Returned values are copies.
	got, _, _ := s.Get(t.Context(), 1)
	*got.Heading = 1
	wantLast(t, s, 1, full, true)
}

func testNewestWins(t *testing.T, s delivery.LocationStore, c *Clock) {
	first := delivery.Location{CourierID: 7, Lat: 1, Lng: 1, Speed: f64(3), Ts: c.Ms(0)}
	putAfter(t, s, first, nil)
	put(t, s, delivery.Location{CourierID: 7, Lat: 2, Lng: 2, Ts: first.Ts - 1}, false)
	wantLast(t, s, 7, first, true)
	same := delivery.Location{CourierID: 7, Lat: 3, Lng: 3, Ts: first.Ts}
	putAfter(t, s, same, &first)
	wantLast(t, s, 7, same, true)
	later := delivery.Location{CourierID: 7, Lat: 4, Lng: 4, Ts: first.Ts + 1}
	putAfter(t, s, later, &same)
	wantLast(t, s, 7, later, true)
}

// testConcurrentPuts: whatever order racing Puts run in, the newest
// stays, and the stored ones form one chain: each replaced a different
// one (the first none), older than itself.
func testConcurrentPuts(t *testing.T, s delivery.LocationStore, c *Clock) {
	const n = 50
	base := c.Ms(-time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	replaced := map[int64]int64{} // ts of a stored position → ts of the one it replaced (0: none)
	for i := range n {
		wg.Go(func() {
			loc := delivery.Location{CourierID: 9, Lat: float64(i) / 10, Lng: 0, Ts: base + int64(i)}
			prev, ok, err := s.Put(t.Context(), loc)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				defer mu.Unlock()
				replaced[loc.Ts] = 0
				if prev != nil {
					replaced[loc.Ts] = prev.Ts
				}
			}
		})
	}
	wg.Wait()
	wantLast(t, s, 9, delivery.Location{CourierID: 9, Lat: float64(n-1) / 10, Ts: base + n - 1}, true)
	seen := map[int64]bool{}
	firsts := 0
	for ts, prev := range replaced {
		switch {
		case prev == 0:
			firsts++
		case prev >= ts || seen[prev]:
			t.Fatalf("position %d replaced %d: want each replaced once, by a newer one (%v)", ts, prev, replaced)
		}
		seen[prev] = true
	}
	if firsts != 1 {
		t.Fatalf("%d positions replaced none, want the first only (%v)", firsts, replaced)
	}
}

// testExpiry: no position is returned once it is older than
// delivery.MaxLocationAge by its ts, whether it aged in the store or
// arrived that old.
func testExpiry(t *testing.T, s delivery.LocationStore, c *Clock) {
	age := delivery.MaxLocationAge
	recent := delivery.Location{CourierID: 4, Lat: 1, Lng: 1, Ts: c.Ms(-time.Second)}
	put(t, s, recent, true)
	edge := delivery.Location{CourierID: 5, Lat: 1, Lng: 1, Ts: c.Ms(-age + time.Minute)}
	put(t, s, edge, true)
	wantLast(t, s, 5, edge, true)
	c.Advance(time.Minute)
	wantLast(t, s, 5, edge, true) // exactly MaxLocationAge old
	c.Advance(time.Millisecond)
	wantLast(t, s, 5, delivery.Location{}, false)
	wantLast(t, s, 4, recent, true)
	c.Advance(age)
	wantLast(t, s, 4, delivery.Location{}, false)

	stale := delivery.Location{CourierID: 6, Lat: 1, Lng: 1, Ts: c.Ms(-age - time.Second)}
	if _, _, err := s.Put(t.Context(), stale); err != nil {
		t.Fatal(err)
	}
	wantLast(t, s, 6, delivery.Location{}, false)
	// A fresh position after expired ones is stored as ever, with no
	// predecessor.
	fresh := delivery.Location{CourierID: 6, Lat: 2, Lng: 2, Ts: c.Ms(0)}
	putAfter(t, s, fresh, nil)
	wantLast(t, s, 6, fresh, true)
	putAfter(t, s, delivery.Location{CourierID: 4, Lat: 3, Lng: 3, Ts: c.Ms(0)}, nil)
}
