// Package opstest is the contract of ops.Heartbeats as tests, for the
// in-memory store and the Redis one alike.
package opstest

import (
	"cmp"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/ops"
)

// Run runs the contract suite. open returns a new, empty store for one
// subtest and arranges for it to be closed when that test ends.
func Run(t *testing.T, open func(t *testing.T) ops.Heartbeats) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, h ops.Heartbeats)
	}{
		{"PutList", testPutList},
		{"PutReplaces", testPutReplaces},
		{"Expiry", testExpiry},
		{"Delete", testDelete},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// waitTimeout bounds the wait for a heartbeat to expire.
const waitTimeout = 10 * time.Second

var base = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

func heartbeat(id string, connections int64) ops.Heartbeat {
	return ops.Heartbeat{
		Instance: ops.Instance{
			ID: id, Version: "v1.2.3", StartedAt: base, Connections: connections,
			Subscriptions: ops.Subscriptions{Order: 3, User: connections, Restaurant: 1, Dispatch: 2, Ops: 1},
			FramesInPerS:  1.5, FramesOutPerS: 12.25, EventsPerS: 4, EventsDeliveredPerS: 8.5,
			SlowCloses: 2, RateLimited: 7, SeenAt: base.Add(time.Minute),
		},
		Errors: []ops.Error{{At: base.Add(30 * time.Second), Instance: id, Message: "replay failed"}},
	}
}

func put(t *testing.T, h ops.Heartbeats, hb ops.Heartbeat, ttl time.Duration) {
	t.Helper()
	if err := h.Put(t.Context(), hb, ttl); err != nil {
		t.Fatalf("Put(%s): %v", hb.ID, err)
	}
}

// list returns the heartbeats by id.
func list(t *testing.T, h ops.Heartbeats) []ops.Heartbeat {
	t.Helper()
	got, err := h.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	slices.SortFunc(got, func(a, b ops.Heartbeat) int { return cmp.Compare(a.ID, b.ID) })
	return got
}

func wantList(t *testing.T, h ops.Heartbeats, want ...ops.Heartbeat) {
	t.Helper()
	got := list(t, h)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("List:\n got %+v\nwant %+v", got, want)
	}
}

// testPutList: every heartbeat put is listed as it was put.
func testPutList(t *testing.T, h ops.Heartbeats) {
	wantList(t, h)
	a, b := heartbeat("host-a1", 5), heartbeat("host-b2", 9)
	put(t, h, b, time.Minute)
	put(t, h, a, time.Minute)
	wantList(t, h, a, b)
}

// testPutReplaces: an instance's heartbeat replaces its previous one.
func testPutReplaces(t *testing.T, h ops.Heartbeats) {
	put(t, h, heartbeat("host-a1", 5), time.Minute)
	newer := heartbeat("host-a1", 6)
	newer.SeenAt = newer.SeenAt.Add(2 * time.Second)
	newer.Errors = []ops.Error{}
	put(t, h, newer, time.Minute)
	wantList(t, h, newer)
}

// testExpiry: a heartbeat not put again within its ttl is no longer
// listed, while one put with a longer ttl stays.
func testExpiry(t *testing.T, h ops.Heartbeats) {
	dying, live := heartbeat("host-dying", 1), heartbeat("host-live", 2)
	put(t, h, live, time.Minute)
	put(t, h, dying, 300*time.Millisecond)
	deadline := time.Now().Add(waitTimeout)
	for {
		got := list(t, h)
		if len(got) == 1 {
			if !reflect.DeepEqual(got, []ops.Heartbeat{live}) {
				t.Fatalf("after the expiry: %+v, want the live one only", got)
			}
			break
		}
		if len(got) != 2 {
			t.Fatalf("List before the expiry: %+v", got)
		}
		if time.Now().After(deadline) {
			t.Fatalf("a heartbeat with a ttl of 300ms still listed after %v", waitTimeout)
		}
		time.Sleep(20 * time.Millisecond) // poll interval of a bounded wait
	}
	// The expired instance coming back is listed again.
	put(t, h, dying, time.Minute)
	wantList(t, h, dying, live)
}

// testDelete: a deleted heartbeat is gone at once; deleting an unknown
// one is no error.
func testDelete(t *testing.T, h ops.Heartbeats) {
	a, b := heartbeat("host-a1", 5), heartbeat("host-b2", 9)
	put(t, h, a, time.Minute)
	put(t, h, b, time.Minute)
	if err := h.Delete(t.Context(), a.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantList(t, h, b)
	if err := h.Delete(t.Context(), "host-unknown"); err != nil {
		t.Fatalf("Delete of an unknown instance: %v", err)
	}
	wantList(t, h, b)
}
