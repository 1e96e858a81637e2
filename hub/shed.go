package hub

import (
	"bytes"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// shedClass is the kind of an ephemeral frame, by which shed frames are
// counted.
type shedClass uint8

const (
	shedPublish  shedClass = iota // a non-durable publish of the publish API
	shedLocation                  // courier.location
	shedTyping                    // chat.typing
	shedRead                      // chat.read
	shedOffer                     // order.offered, order.claimed
	numShedClasses
)

// classOf names the class of an ephemeral frame by its event. The publish
// API may not use the prefixes of the hub's own events, so a publish is
// never taken for one of them.
func classOf(frame []byte) shedClass {
	_, ev, _ := wire.EventNames(frame)
	switch string(ev) {
	case delivery.EventCourierLocation:
		return shedLocation
	case wire.EventChatTyping:
		return shedTyping
	case delivery.EventChatRead:
		return shedRead
	case wire.EventOrderOffered, wire.EventOrderClaimed:
		return shedOffer
	}
	return shedPublish
}

// positionChannel returns the channel of a courier position.
func positionChannel(frame []byte) ([]byte, bool) {
	ch, ev, ok := wire.EventNames(frame)
	return ch, ok && string(ev) == delivery.EventCourierLocation
}

// shedLocked makes room for frame, which does not fit in the queue, by
// dropping queued ephemeral frames (DERP drops by message class too), and
// reports whether frame fits now. Durable frames and answers stay, in
// their order. A connection this far behind cannot catch up on ephemeral
// state, so all of it goes at once but the newest position of each
// channel, which a map needs and the frame, when it is a position, makes
// stale: the next shed is then far off instead of due at every frame.
// Only a durable frame that still finds no room takes those positions'
// places too.
func (c *client) shedLocked(frame []byte, ephemeral bool) bool {
	if c.ephemerals == 0 {
		return false
	}
	var kept [][]byte // channels whose newest position stays
	if ch, ok := positionChannel(frame); ok && ephemeral {
		kept = append(kept, ch)
	}
	// Newest first: the first position met on a channel is its newest.
	for i := len(c.queue) - 1; i >= 0; i-- {
		if !c.eph[i] {
			continue
		}
		if ch, ok := positionChannel(c.queue[i]); ok && !containsName(kept, ch) {
			kept = append(kept, ch)
			continue
		}
		c.shedAtLocked(i)
	}
	c.compactLocked()
	if fits := c.fitsLocked(len(frame)); fits || ephemeral {
		return fits
	}
	for i := range c.queue {
		if c.eph[i] {
			c.shedAtLocked(i)
		}
	}
	c.compactLocked()
	return c.fitsLocked(len(frame))
}

func containsName(names [][]byte, name []byte) bool {
	for _, n := range names {
		if bytes.Equal(n, name) {
			return true
		}
	}
	return false
}

// shedAtLocked drops the ephemeral frame at i, leaving a hole that
// compactLocked closes.
func (c *client) shedAtLocked(i int) {
	c.hub.stats.shed[classOf(c.queue[i])].Add(1)
	c.queued -= len(c.queue[i])
	c.ephemerals--
	c.queue[i] = nil
}

// compactLocked closes the holes shedAtLocked left, keeping the order.
func (c *client) compactLocked() {
	n := 0
	for i, f := range c.queue {
		if f != nil {
			c.queue[n], c.eph[n] = f, c.eph[i]
			n++
		}
	}
	clear(c.queue[n:])
	c.queue, c.eph = c.queue[:n], c.eph[:n]
}
