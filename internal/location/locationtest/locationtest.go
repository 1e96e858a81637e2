// Package locationtest is the contract of delivery.LocationStore as tests,
// for the in-memory store and the Redis one alike.
package locationtest

import (
	"reflect"
	"sync"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Run runs the contract suite. open returns a new, empty store for one
// subtest and arranges for it to be closed when that test ends.
func Run(t *testing.T, open func(t *testing.T) delivery.LocationStore) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, s delivery.LocationStore)
	}{
		{"PutGet", testPutGet},
		{"NewestWins", testNewestWins},
		{"ConcurrentPuts", testConcurrentPuts},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

func f64(v float64) *float64 { return &v }

func put(t *testing.T, s delivery.LocationStore, loc delivery.Location, want bool) {
	t.Helper()
	ok, err := s.Put(t.Context(), loc)
	if err != nil || ok != want {
		t.Fatalf("Put(%+v) = %v, %v; want %v", loc, ok, err, want)
	}
}

func wantLast(t *testing.T, s delivery.LocationStore, courier delivery.ID, want delivery.Location, wantOK bool) {
	t.Helper()
	got, ok, err := s.Get(t.Context(), courier)
	if err != nil || ok != wantOK || !reflect.DeepEqual(got, want) {
		t.Fatalf("Get(%s) = %+v, %v, %v; want %+v, %v", courier, got, ok, err, want, wantOK)
	}
}

func testPutGet(t *testing.T, s delivery.LocationStore) {
	wantLast(t, s, 1, delivery.Location{}, false)
	full := delivery.Location{CourierID: 1, Lat: 52.52, Lng: -13.405, Heading: f64(90), Speed: f64(0), Ts: 1_732_406_400_000}
	put(t, s, full, true)
	wantLast(t, s, 1, full, true)
	bare := delivery.Location{CourierID: 2, Lat: -90, Lng: 180, Ts: 1}
	put(t, s, bare, true)
	wantLast(t, s, 2, bare, true)
	wantLast(t, s, 1, full, true)
	// Returned values are copies.
	got, _, _ := s.Get(t.Context(), 1)
	*got.Heading = 1
	wantLast(t, s, 1, full, true)
}

func testNewestWins(t *testing.T, s delivery.LocationStore) {
	first := delivery.Location{CourierID: 7, Lat: 1, Lng: 1, Ts: 2000}
	put(t, s, first, true)
	put(t, s, delivery.Location{CourierID: 7, Lat: 2, Lng: 2, Ts: 1999}, false)
	wantLast(t, s, 7, first, true)
	same := delivery.Location{CourierID: 7, Lat: 3, Lng: 3, Ts: 2000}
	put(t, s, same, true)
	wantLast(t, s, 7, same, true)
	later := delivery.Location{CourierID: 7, Lat: 4, Lng: 4, Ts: 2001}
	put(t, s, later, true)
	wantLast(t, s, 7, later, true)
}

// testConcurrentPuts: whatever order racing Puts run in, the newest stays.
func testConcurrentPuts(t *testing.T, s delivery.LocationStore) {
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := s.Put(t.Context(), delivery.Location{CourierID: 9, Lat: float64(i) / 10, Lng: 0, Ts: int64(1000 + i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	wantLast(t, s, 9, delivery.Location{CourierID: 9, Lat: float64(n-1) / 10, Ts: 1000 + n - 1}, true)
}
