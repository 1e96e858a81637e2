package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts latencies in microseconds in log-linear buckets: exact
// below 128 µs, then 64 buckets per power of two (a relative error under
// 1.6 %). It is safe for concurrent use without a lock, and its size is
// fixed: every reader of every socket adds to one histogram, at up to a
// few hundred thousand deliveries a second.
type histogram struct {
	buckets [histBuckets]atomic.Uint64
	count   atomic.Uint64
	max     atomic.Uint64 // µs, exact
}

const (
	histSub     = 64
	histExact   = 2 * histSub
	histMaxExp  = 36 // 2^42 µs, some 50 days: anything beyond is clamped
	histBuckets = histExact + histMaxExp*histSub
)

func histIndex(us uint64) int {
	if us < histExact {
		return int(us)
	}
	e := bits.Len64(us) - 7 // us>>e is in [64, 128)
	if e > histMaxExp {
		return histBuckets - 1
	}
	return histExact + (e-1)*histSub + int(us>>e) - histSub
}

// histValue is the middle of bucket i.
func histValue(i int) uint64 {
	if i < histExact {
		return uint64(i)
	}
	e := (i-histExact)/histSub + 1
	m := uint64((i-histExact)%histSub + histSub)
	return m<<e + (uint64(1)<<e)/2
}

func (h *histogram) add(d time.Duration) {
	us := uint64(0)
	if d > 0 { // a clock step or a ts in whole milliseconds: no latency below zero
		us = uint64(d / time.Microsecond)
	}
	h.buckets[histIndex(us)].Add(1)
	h.count.Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// latencies is what a run reports of a histogram.
type latencies struct {
	Count uint64        `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

// summary reads the histogram; call it once nothing adds any more.
func (h *histogram) summary() latencies {
	n := h.count.Load()
	l := latencies{Count: n, Max: time.Duration(h.max.Load()) * time.Microsecond}
	if n == 0 {
		return l
	}
	l.P50, l.P90, l.P99 = h.quantile(n, 0.50), h.quantile(n, 0.90), h.quantile(n, 0.99)
	return l
}

// quantile is the value at rank ceil(q·n), capped at the exact maximum
// (a bucket's middle may lie above it).
func (h *histogram) quantile(n uint64, q float64) time.Duration {
	rank := uint64(q*float64(n) + 0.999999)
	rank = max(rank, 1)
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			return time.Duration(min(histValue(i), h.max.Load())) * time.Microsecond
		}
	}
	return time.Duration(h.max.Load()) * time.Microsecond
}

// seqWindow tells, per subscription, whether a numbered delivery is new, a
// duplicate, or late (below the highest number already delivered). It
// remembers the 64 numbers below the highest; older ones count as late,
// since a duplicate that old cannot be told from a reordered delivery. A
// subscription's numbers are durable seqs (the server's, consecutive per
// order) or, for ephemeral publishes, the tool's own per-channel count.
// Owned by the socket's reader: no lock.
type seqWindow struct {
	top  uint64 // highest number seen; 0: none yet
	seen uint64 // bit i: top-i was seen
}

type arrival int

const (
	arrivalNew arrival = iota
	arrivalDuplicate
	arrivalLate // new, but after a higher number
)

func (w *seqWindow) observe(n uint64) arrival {
	switch {
	case w.top == 0 || n > w.top:
		shift := n - w.top
		if w.top == 0 || shift >= 64 {
			w.seen = 1
		} else {
			w.seen = w.seen<<shift | 1
		}
		w.top = n
		return arrivalNew
	case w.top-n >= 64:
		return arrivalLate
	}
	bit := uint64(1) << (w.top - n)
	if w.seen&bit != 0 {
		return arrivalDuplicate
	}
	w.seen |= bit
	return arrivalLate
}

// tally counts one subscriber's deliveries; a reader owns it and the
// run adds them up once the readers ended.
type tally struct {
	distinct   uint64
	duplicates uint64
	late       uint64
}

func (t *tally) count(a arrival) {
	switch a {
	case arrivalNew:
		t.distinct++
	case arrivalDuplicate:
		t.duplicates++
	case arrivalLate:
		t.distinct++
		t.late++
	}
}

func (t *tally) addTo(sum *tally) {
	sum.distinct += t.distinct
	sum.duplicates += t.duplicates
	sum.late += t.late
}
