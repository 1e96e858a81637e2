package geo_test

import (
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/geo"
)

// base is the epoch of the fixes' times: a real ts is never 0.
const base = 1_732_406_400_000

// fix is one position of the courier: metres north of the place, at ts
// (ms after base); prev, when set, overrides the ts of the position before it that
// the position store reports (by default the previous fix's).
type fix struct {
	m      float64
	ts     int64
	prev   int64
	arrive bool // this position completes the stay
}

func TestStep(t *testing.T) {
	place := delivery.Place{Lat: 52.52, Lng: 13.405}
	for _, tc := range []struct {
		name   string
		fixes  []fix
		writes int // store writes over the whole run
	}{
		{"approach from outside", []fix{{m: 900, ts: 0}, {m: 400, ts: 2000}, {m: 120, ts: 4000}, {m: 45, ts: 6000},
			{m: 20, ts: 8000}, {m: 5, ts: 11_000, arrive: true}}, 3},
		{"dwell under 5 s", []fix{{m: 40, ts: 0}, {m: 30, ts: 2000}, {m: 10, ts: 4999}}, 3},
		{"dwell of exactly 5 s", []fix{{m: 40, ts: 0}, {m: 10, ts: 5000, arrive: true}}, 2},
		{"dwell over 5 s", []fix{{m: 49, ts: 0}, {m: 49, ts: 3000}, {m: 49, ts: 9000, arrive: true}}, 3},
		{"just within the edge", []fix{{m: 49.99, ts: 0}, {m: 49.99, ts: 5000, arrive: true}}, 2},
		{"just outside the edge", []fix{{m: 50.01, ts: 0}, {m: 50.01, ts: 5000}}, 0},
		{"one position is no stay", []fix{{m: 10, ts: 0}}, 1},
		{"jitter across the edge resets the dwell", []fix{{m: 45, ts: 0}, {m: 52, ts: 3000}, {m: 45, ts: 4000},
			{m: 48, ts: 8999}, {m: 51, ts: 9500}, {m: 30, ts: 10_000}, {m: 30, ts: 14_999}, {m: 30, ts: 15_000, arrive: true}}, 8},
		{"far away costs no write", []fix{{m: 5000, ts: 0}, {m: 4000, ts: 1000}, {m: 3000, ts: 2000}, {m: 51, ts: 3000}}, 0},
		{"leaving after a stay under 5 s writes once", []fix{{m: 10, ts: 0}, {m: 80, ts: 2000}, {m: 900, ts: 4000}}, 2},
		{"a position out of order changes nothing", []fix{{m: 10, ts: 0}, {m: 10, ts: 4000}, {m: 900, ts: 3000, prev: 4000},
			{m: 10, ts: 5000, prev: 4000, arrive: true}}, 3},
		{"a position sent twice changes nothing", []fix{{m: 10, ts: 0}, {m: 10, ts: 4000}, {m: 10, ts: 4000}, {m: 10, ts: 6000, arrive: true}}, 3},
		// The position at 3000 reached another instance that has not
		// recorded it: it may have been outside, so the run restarts.
		{"a position not recorded restarts the run", []fix{{m: 10, ts: 0}, {m: 10, ts: 4000, prev: 3000},
			{m: 10, ts: 8000}, {m: 10, ts: 9000, arrive: true}}, 4},
		{"once per place", []fix{{m: 10, ts: 0}, {m: 10, ts: 5000, arrive: true}, {m: 10, ts: 6000}, {m: 900, ts: 7000},
			{m: 10, ts: 8000}, {m: 10, ts: 20_000}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stay delivery.Stay // as the store holds it
			var prevTs int64
			writes := 0
			for i, f := range tc.fixes {
				prev := prevTs
				if f.prev != 0 {
					prev = base + f.prev
				}
				step := geo.Step(stay, place, north(place, f.m), base+f.ts, prev)
				if step.Arrived != f.arrive || step.Next.Arrived != step.Arrived && !stay.Arrived {
					t.Fatalf("fix %d (%g m at %d): arrived=%v (next %+v), want %v", i, f.m, f.ts, step.Arrived, step.Next, f.arrive)
				}
				if !step.Write && step.Next != stay {
					t.Fatalf("fix %d: %+v without a write, over %+v", i, step.Next, stay)
				}
				if step.Write {
					if step.Next == stay {
						t.Fatalf("fix %d: a write that changes nothing (%+v)", i, stay)
					}
					writes++
					stay = step.Next
				}
				if base+f.ts > prevTs {
					prevTs = base + f.ts // the position store keeps the newest
				}
			}
			if writes != tc.writes {
				t.Fatalf("%d writes, want %d", writes, tc.writes)
			}
		})
	}
}
