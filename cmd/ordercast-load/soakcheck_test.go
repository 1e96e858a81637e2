package main

import (
	"slices"
	"testing"
)

func seqs(from, to uint64) []uint64 {
	var s []uint64
	for n := from; n <= to; n++ {
		s = append(s, n)
	}
	return s
}

// The client library's accounting of the frames of one order channel, as
// they come off the wire (across reconnects), and the verdict on what it
// handed the application against the order's log.
func TestPartyLogAccountsTheWire(t *testing.T) {
	cases := []struct {
		name                 string
		wire                 []uint64
		applied              []uint64
		duplicates, late, gp uint64
		truth                []uint64
		want                 verdict
	}{
		{name: "in order", wire: seqs(1, 5), applied: seqs(1, 5), truth: seqs(1, 5),
			want: verdict{Expected: 5, Applied: 5}},
		// A replay from a since below the cursor, and a copy live.
		{name: "copies", wire: []uint64{1, 2, 3, 2, 3, 4, 4, 1, 5}, applied: seqs(1, 5), duplicates: 4, truth: seqs(1, 5),
			want: verdict{Expected: 5, Applied: 5}},
		{name: "gap", wire: []uint64{1, 2, 4, 5}, applied: []uint64{1, 2, 4, 5}, gp: 1, truth: seqs(1, 5),
			want: verdict{Expected: 5, Applied: 4, Lost: 1}},
		// 3 before 2: the library, at 3, drops 2, which never reaches the
		// application.
		{name: "reordered", wire: []uint64{1, 3, 2, 4}, applied: []uint64{1, 3, 4}, late: 1, gp: 1, truth: seqs(1, 4),
			want: verdict{Expected: 4, Applied: 3, Lost: 1}},
		{name: "the tail missing", wire: seqs(1, 3), applied: seqs(1, 3), truth: seqs(1, 6),
			want: verdict{Expected: 6, Applied: 3, Lost: 3}},
		{name: "nothing", truth: seqs(1, 2), want: verdict{Expected: 2, Lost: 2}},
		{name: "beyond the log", wire: seqs(1, 3), applied: seqs(1, 3), truth: seqs(1, 2),
			want: verdict{Expected: 2, Applied: 3, Unknown: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p partyLog
			var applied int
			for _, s := range c.wire {
				if p.observe(s) {
					applied++
				}
			}
			if !slices.Equal(p.applied, c.applied) || applied != len(c.applied) || p.last != max(0, lastOf(c.applied)) {
				t.Fatalf("applied %v (observe said %d), cursor %d; want %v", p.applied, applied, p.last, c.applied)
			}
			if p.wireDuplicates != c.duplicates || p.late != c.late || p.gaps != c.gp {
				t.Fatalf("duplicates %d, late %d, gaps %d; want %d, %d, %d", p.wireDuplicates, p.late, p.gaps, c.duplicates, c.late, c.gp)
			}
			got := judge(c.truth, p.applied)
			if got != c.want {
				t.Fatalf("verdict %+v, want %+v", got, c.want)
			}
			if got.ok() != (c.want == verdict{Expected: c.want.Expected, Applied: c.want.Applied}) {
				t.Fatalf("ok() %v for %+v", got.ok(), got)
			}
		})
	}
}

func lastOf(s []uint64) uint64 {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

// judge holds whatever reached the application to exactly once and in
// seq order, whether or not a library's rule could let it through.
func TestJudgeCountsWhatTheApplicationGot(t *testing.T) {
	cases := []struct {
		name           string
		truth, applied []uint64
		want           verdict
	}{
		{"duplicate", seqs(1, 3), []uint64{1, 2, 2, 3}, verdict{Expected: 3, Applied: 4, Duplicates: 1}},
		{"late duplicate", seqs(1, 3), []uint64{1, 2, 3, 1}, verdict{Expected: 3, Applied: 4, Duplicates: 1}},
		{"out of order", seqs(1, 3), []uint64{1, 3, 2}, verdict{Expected: 3, Applied: 3, OutOfOrder: 1}},
		{"out of order and lost", seqs(1, 4), []uint64{2, 1, 4}, verdict{Expected: 4, Applied: 3, OutOfOrder: 1, Lost: 1}},
		{"unknown", seqs(1, 2), []uint64{1, 2, 7}, verdict{Expected: 2, Applied: 3, Unknown: 1}},
		{"empty log", nil, nil, verdict{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := judge(c.truth, c.applied)
			if got != c.want {
				t.Fatalf("judge(%v, %v) = %+v, want %+v", c.truth, c.applied, got, c.want)
			}
			if got.ok() != (got.Lost+got.Duplicates+got.OutOfOrder+got.Unknown == 0) {
				t.Fatalf("ok() %v for %+v", got.ok(), got)
			}
		})
	}
	var sum verdict
	sum.add(verdict{Expected: 3, Applied: 2, Lost: 1})
	sum.add(verdict{Expected: 2, Applied: 3, Duplicates: 1, OutOfOrder: 2, Unknown: 1})
	if want := (verdict{Expected: 5, Applied: 5, Lost: 1, Duplicates: 1, OutOfOrder: 2, Unknown: 1}); sum != want {
		t.Fatalf("sum %+v, want %+v", sum, want)
	}
}

// The ephemeral estimate: positions the courier's server acknowledged
// between the first and the last a watcher got, and not got.
func TestPositionsMissing(t *testing.T) {
	var acked bitset
	for n := uint64(1); n <= 200; n++ {
		if n != 5 && n != 130 {
			acked.set(n)
		}
	}
	if acked.has(5) || !acked.has(4) || !acked.has(200) || acked.has(201) || acked.has(10_000) {
		t.Fatal("bitset membership")
	}
	var p positionsSeen
	if e, l := p.missing(&acked); e != 0 || l != 0 {
		t.Fatalf("nothing seen: %d expected, %d lost", e, l)
	}
	for _, n := range []uint64{8, 2, 3, 6, 6, 128, 131} { // 6 twice: the last position on subscribe, then live
		p.see(n)
	}
	// 2..131 acked but 5 and 130: 128 expected; seen 2, 3, 6, 8, 128, 131.
	if e, l := p.missing(&acked); e != 128 || l != 122 || p.frames != 7 {
		t.Fatalf("%d expected, %d lost, %d frames; want 128, 122, 7", e, l, p.frames)
	}
}

// The tolerance an instance's figures are held to after the load.
func TestSettleLimits(t *testing.T) {
	var ser instanceSeries
	ser.start("before the load", instanceSample{Goroutines: 500, FDs: 500})
	ser.observe(instanceSample{Goroutines: 9000, FDs: 9000})
	ser.start("after its restart", instanceSample{Goroutines: 30, FDs: 40}) // the limits are the last life's
	ser.observe(instanceSample{Goroutines: 2030, FDs: 1040, RSS: 5})
	ser.observe(instanceSample{Goroutines: 100, FDs: 2040, RSS: 3})
	if p := ser.last().Peak; p != (instanceSample{Goroutines: 2030, FDs: 2040, RSS: 5}) || len(ser.Samples) != 5 || ser.Lives[0].Peak.Goroutines != 9000 {
		t.Fatalf("peaks %+v, %d samples", ser.Lives, len(ser.Samples))
	}
	if got := ser.limits(); got.Goroutines != 30+goroutineSlack+100 || got.FDs != 40+fdSlack+100 {
		t.Fatalf("limits %+v", got)
	}
}
