package main

import "slices"

// The soak's check of durable events. Each party keeps, per order, what
// a client library that follows docs/protocol.md makes of the order
// channel: it applies an event whose seq is above the last it applied
// (its cursor, which it resumes from with since after a reconnect) and
// drops any other. What reaches the application is then compared, at the
// end, with the order's event log read over REST (the truth).

// partyLog is one party's accounting of one order's durable events.
// Owned by the party's lock.
type partyLog struct {
	last    uint64   // the cursor: the highest seq applied, 0 before any
	applied []uint64 // seqs handed to the application, in order

	// Frames the library dropped at the wire: wireDuplicates had a seq it
	// had applied already (a copy: harmless); late ones a seq below the
	// cursor that it never applied, which arrived after a higher one (a
	// reorder: that event never reaches the application).
	wireDuplicates uint64
	late           uint64
	// gaps counts events applied past a missing seq (cursor+2 or more).
	gaps uint64
}

// observe takes a durable frame of the order and reports whether it was
// applied.
func (p *partyLog) observe(seq uint64) bool {
	if seq <= p.last {
		if _, found := slices.BinarySearch(p.applied, seq); found { // ascending: each applied seq is above the last
			p.wireDuplicates++
		} else {
			p.late++
		}
		return false
	}
	if seq != p.last+1 {
		p.gaps++
	}
	p.applied = append(p.applied, seq)
	p.last = seq
	return true
}

// verdict compares what a party applied of one order with the truth.
type verdict struct {
	Expected   uint64 `json:"expected"`     // the log's events
	Applied    uint64 `json:"applied"`      // events handed to the application
	Lost       uint64 `json:"lost"`         // in the log, never applied
	Duplicates uint64 `json:"duplicates"`   // applied again after once
	OutOfOrder uint64 `json:"out_of_order"` // applied after a higher seq
	Unknown    uint64 `json:"unknown"`      // applied, not in the log
}

func (v verdict) ok() bool {
	return v.Lost == 0 && v.Duplicates == 0 && v.OutOfOrder == 0 && v.Unknown == 0
}

func (v *verdict) add(o verdict) {
	v.Expected += o.Expected
	v.Applied += o.Applied
	v.Lost += o.Lost
	v.Duplicates += o.Duplicates
	v.OutOfOrder += o.OutOfOrder
	v.Unknown += o.Unknown
}

// judge compares applied, in the order the application got it, with
// truth, the seqs of the order's log: every one exactly once and in seq
// order. It does not assume the library's rule, so that it checks it.
func judge(truth, applied []uint64) verdict {
	v := verdict{Expected: uint64(len(truth)), Applied: uint64(len(applied))}
	inLog := make(map[uint64]bool, len(truth))
	for _, s := range truth {
		inLog[s] = true
	}
	seen := make(map[uint64]bool, len(applied))
	var highest uint64
	for _, s := range applied {
		switch {
		case seen[s]:
			v.Duplicates++
			continue
		case !inLog[s]:
			v.Unknown++
		case s < highest:
			v.OutOfOrder++
		}
		seen[s] = true
		highest = max(highest, s)
	}
	for _, s := range truth {
		if !seen[s] {
			v.Lost++
		}
	}
	return v
}

// positionsSeen are the courier positions (numbered by the courier, see
// courierPositions) one party got on one order channel.
type positionsSeen struct {
	first, last uint64 // 0: none yet
	distinct    map[uint64]struct{}
	frames      uint64
}

func (p *positionsSeen) see(n uint64) {
	p.frames++
	if p.distinct == nil {
		p.distinct = map[uint64]struct{}{}
	}
	p.distinct[n] = struct{}{}
	if p.first == 0 || n < p.first {
		p.first = n
	}
	p.last = max(p.last, n)
}

// missing estimates the positions this party lost: those the courier's
// server acknowledged between the first and the last the party got (the
// order was active all that time) that never came. Positions the server's
// one-a-second throttle replaced with a newer one count as lost too, as
// do those sent while the party was reconnecting: it is an estimate of
// what an application misses, not a check.
func (p *positionsSeen) missing(acked *bitset) (expected, lost uint64) {
	if p.first == 0 {
		return 0, 0
	}
	for n := p.first; n <= p.last; n++ {
		if !acked.has(n) {
			continue
		}
		expected++
		if _, ok := p.distinct[n]; !ok {
			lost++
		}
	}
	return expected, lost
}

// bitset is a growing set of small numbers.
type bitset struct{ words []uint64 }

func (b *bitset) set(n uint64) {
	for uint64(len(b.words)) <= n/64 {
		b.words = append(b.words, 0)
	}
	b.words[n/64] |= 1 << (n % 64)
}

func (b *bitset) has(n uint64) bool {
	return n/64 < uint64(len(b.words)) && b.words[n/64]&(1<<(n%64)) != 0
}
