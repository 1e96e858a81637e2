package redis

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// localOnlyCap bounds the frames remembered; beyond it the oldest are
// forgotten, and a relay of one of those may reach a local feed twice
// (order channels still drop it by seq).
const localOnlyCap = 4096

var frameSeed = maphash.MakeSeed()

// localOnly remembers frames that this instance handed to its own
// subscribers while publishing them to Redis failed. The outbox relays
// those events later, from this instance or another, as byte-identical
// frames (encoded from the stored event); this instance's subscribers
// already have them, and feed channels have no seq state to drop them by.
type localOnly struct {
	n    atomic.Int32 // entries in seen: lets the hot path skip hashing
	mu   sync.Mutex
	seen map[uint64]struct{}
	ring [localOnlyCap]uint64 // insertion order, to forget the oldest
	next int
}

func (l *localOnly) add(frame []byte) {
	h := maphash.Bytes(frameSeed, frame)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = make(map[uint64]struct{})
	}
	if old := l.ring[l.next]; old != 0 {
		delete(l.seen, old)
	}
	l.ring[l.next] = h
	l.next = (l.next + 1) % localOnlyCap
	l.seen[h] = struct{}{}
	l.n.Store(int32(len(l.seen)))
}

// take reports whether frame was remembered, and forgets it.
func (l *localOnly) take(frame []byte) bool {
	if l.n.Load() == 0 {
		return false
	}
	h := maphash.Bytes(frameSeed, frame)
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.seen[h]
	delete(l.seen, h)
	l.n.Store(int32(len(l.seen)))
	return ok
}
