package hub

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// encodeEvent encodes an event frame once, into a slice of its own: the
// same bytes then go to every socket of the channel (and over the bus),
// and stay valid as long as any queue holds them.
func encodeEvent(channel, event string, seq int64, data []byte, ts int64) []byte {
	return encodeFeedEvent(channel, event, 0, seq, data, ts)
}

// encodeFeedEvent is encodeEvent naming the event's order (a feed's copy).
func encodeFeedEvent(channel, event string, order delivery.ID, seq int64, data []byte, ts int64) []byte {
	return wire.AppendFeedEvent(make([]byte, 0, len(channel)+len(event)+len(data)+120), channel, event, order, seq, data, ts)
}

// PublisherConfig is what a Publisher is built from. Zero fields take
// defaults.
type PublisherConfig struct {
	Bus delivery.Bus // required; the hub starts it
	// LatestInterval: latest-value publications (courier positions) go
	// out at most one per interval per channel and courier, over any
	// span; default 1 s. LatestTick: how early one may come and still go
	// out at once, the jitter of a sender on schedule (an earlier one is
	// held until its interval ends); default 50 ms.
	LatestInterval time.Duration
	LatestTick     time.Duration
	// Timeout bounds the bus call of a held-back publication; default 10 s.
	Timeout time.Duration
	// Now is the clock of the throttle (time.Now when nil): tests move it.
	Now func() time.Time
	Log zerolog.Logger
}

// Publisher is the one way into the fan-out: it encodes each publication
// once and hands it to the bus, which brings it to every instance's hub.
// It decides nothing about where events go (the order service routed
// them); it only spaces latest-value publications. It implements
// delivery.Publisher. Close it after the last Publish.
type Publisher struct {
	cfg    PublisherConfig
	log    zerolog.Logger
	latest latestThrottle
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	// ctx bounds the sends of held publications; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	published, latestSent, latestHeld atomic.Uint64
}

var _ delivery.Publisher = (*Publisher)(nil)

// NewPublisher returns a running publisher; it starts the loop that sends
// held-back publications.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	if cfg.Bus == nil {
		return nil, errors.New("hub: the publisher needs a Bus")
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur(&cfg.LatestInterval, time.Second)
	defDur(&cfg.LatestTick, 50*time.Millisecond)
	defDur(&cfg.Timeout, 10*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Publisher{cfg: cfg, log: cfg.Log.With().Str("component", "publisher").Logger(), stop: make(chan struct{}), done: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.latest = latestThrottle{
		window: int64(cfg.LatestInterval), early: int64(cfg.LatestTick),
		slots: make(map[latestKey]*latestSlot), wake: make(chan struct{}, 1),
	}
	go p.latestLoop()
	return p, nil
}

// Close stops the loop of held-back publications (those held are lost:
// newer ones follow) and returns once it ended.
func (p *Publisher) Close() {
	p.once.Do(func() {
		close(p.stop)
		p.cancel()
	})
	<-p.done
}

// Publish hands pubs to the bus, in order and in one call (one round trip
// to Redis for an event's channels), and returns the bus's error (logged):
// it did not take some of them. It never blocks on sockets. A
// latest-value publication that comes early in its interval (by more
// than a tick) is held back, a newer one replacing it, and sent when the
// interval ends.
func (p *Publisher) Publish(ctx context.Context, pubs ...delivery.Publication) error {
	now := p.cfg.Now().UnixNano()
	held := messages.Get().(*[]delivery.BusMessage)
	msgs := (*held)[:0]
	event := "" // for the log: the event of those sent
	for i := range pubs {
		pub := &pubs[i]
		if pub.Latest && !p.latest.offer(pub, now) {
			p.latestHeld.Add(1)
			continue
		}
		msgs = append(msgs, p.message(pub))
		event = pub.Event
	}
	err := p.send(ctx, msgs, event)
	if cap(msgs) <= maxPooledMessages {
		clear(msgs) // not to keep the frames alive in the pool
		*held = msgs[:0]
		messages.Put(held)
	}
	return err
}

// messages are the slices of bus calls, reused (the bus keeps none): a
// slice handed through the interface would be allocated for every
// publish. maxPooledMessages bounds the ones kept.
var messages = sync.Pool{New: func() any { s := make([]delivery.BusMessage, 0, 8); return &s }}

const maxPooledMessages = 64

// message encodes pub's frame for the bus.
func (p *Publisher) message(pub *delivery.Publication) delivery.BusMessage {
	p.published.Add(1)
	if pub.Latest {
		p.latestSent.Add(1)
	}
	return delivery.BusMessage{
		Channel: pub.Channel, Seq: pub.Seq, Frame: encodeFeedEvent(pub.Channel, pub.Event, pub.Order, pub.Seq, pub.Data, pub.Ts),
		Except: pub.Except, AsOf: pub.AsOf, Revoke: pub.Revoke, Courier: pub.Courier, Expires: pub.Expires,
	}
}

func (p *Publisher) send(ctx context.Context, msgs []delivery.BusMessage, event string) error {
	if len(msgs) == 0 {
		return nil
	}
	err := p.cfg.Bus.Publish(ctx, msgs...)
	if err != nil {
		// The error names the channels.
		p.log.Error().Err(err).Str("event", event).Int("messages", len(msgs)).Msg("publish")
	}
	return err
}

type latestKey struct {
	channel string
	courier delivery.ID
}

// latestSlot is the throttle state of one courier on one channel.
type latestSlot struct {
	// last is when the last send was due (Unix ns, publisher clock): its
	// own time, or the end of the interval when it came up to a tick early,
	// so that early sends cannot add up to more than one per interval.
	last    int64
	held    delivery.Publication
	holding bool
}

// heldSlot is a slot holding a publication due at due.
type heldSlot struct {
	due  int64
	slot *latestSlot
}

// heldHeap orders held slots by due time: the loop sleeps until the
// first instead of scanning every slot on every wake.
type heldHeap []heldSlot

func (h heldHeap) Len() int           { return len(h) }
func (h heldHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h heldHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *heldHeap) Push(x any)        { *h = append(*h, x.(heldSlot)) }
func (h *heldHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// latestThrottle spaces the publications of each slot (a courier on a
// channel) by schedule: one that comes on time, give or take a tick, goes
// out at once; one that comes earlier is held until its interval ends,
// a newer one replacing it. It is a leaky bucket per slot (the rate is
// at most one per interval, over any span), not a ticker, so that a
// courier sending once a second is never held. Its slots are those that
// sent within the last interval: at most couriers ×
// delivery.MaxActiveOrders.
type latestThrottle struct {
	window, early int64 // ns: the interval, and how early one may come

	mu     sync.Mutex
	slots  map[latestKey]*latestSlot
	held   heldHeap // every holding slot, once, plus entries of slots sent meanwhile
	wakeAt int64    // when the loop wakes next
	swept  int64    // when idle slots were last dropped
	wake   chan struct{}
}

// offer reports whether pub goes out now; otherwise it holds pub (unless
// it holds a newer one) and wakes the loop if pub is due before it would
// wake.
func (t *latestThrottle) offer(pub *delivery.Publication, now int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := latestKey{pub.Channel, pub.Courier}
	sl := t.slots[k]
	if sl == nil {
		t.slots[k] = &latestSlot{last: now}
		return true
	}
	due := sl.last + t.window
	if now >= due-t.early {
		sl.last = max(due, now)
		sl.holding, sl.held = false, delivery.Publication{} // the newer one went out
		return true
	}
	if !sl.holding {
		sl.holding = true
		heap.Push(&t.held, heldSlot{due, sl})
		if due < t.wakeAt {
			select {
			case t.wake <- struct{}{}:
			default: // a wake is pending
			}
		}
	}
	if sl.held.Ts <= pub.Ts {
		sl.held = *pub
	}
	return false
}

// due takes the held publications due by now, appending them to out, and
// returns how long the loop may sleep: until the next one is due, at most
// a tick (which bounds how late a held one goes out should the clock jump,
// as tests make it). Once an interval, it drops the slots that hold
// nothing and no longer delay anything.
func (t *latestThrottle) due(now int64, out []delivery.Publication) ([]delivery.Publication, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.held) > 0 && t.held[0].due <= now {
		e := heap.Pop(&t.held).(heldSlot)
		sl := e.slot
		if !sl.holding || sl.last+t.window != e.due {
			continue // a newer one went out on schedule meanwhile
		}
		out = append(out, sl.held)
		sl.last = max(e.due, now)
		sl.holding, sl.held = false, delivery.Publication{}
	}
	if now-t.swept >= t.window {
		t.swept = now
		for k, sl := range t.slots {
			if !sl.holding && now-sl.last >= t.window {
				delete(t.slots, k)
			}
		}
	}
	sleep := t.early
	if len(t.held) > 0 {
		sleep = min(sleep, t.held[0].due-now)
	}
	t.wakeAt = now + sleep
	return out, time.Duration(sleep)
}

// latestLoop sends held-back publications when their interval ends: one
// loop sleeping until the first is due, instead of a timer per slot.
// sendHeld sends the held publications that are due in one bus call
// bounded by one Timeout, which Close cuts short: a bus that hangs delays
// the next round by one Timeout at most, and Close by none. A position
// lost is followed by the next. msgs is reused; it returns it.
func (p *Publisher) sendHeld(batch []delivery.Publication, msgs []delivery.BusMessage) []delivery.BusMessage {
	if len(batch) == 0 {
		return msgs
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeout)
	defer cancel()
	msgs = msgs[:0]
	for i := range batch {
		msgs = append(msgs, p.message(&batch[i]))
	}
	_ = p.send(ctx, msgs, batch[0].Event) // logged
	clear(msgs)                           // not to keep the frames alive until the next round
	return msgs
}

func (p *Publisher) latestLoop() {
	defer close(p.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	// Reused: steady traffic allocates no slices.
	var batch []delivery.Publication
	var msgs []delivery.BusMessage
	for {
		select {
		case <-p.stop:
			return
		case <-timer.C:
		case <-p.latest.wake:
		}
		var sleep time.Duration
		batch, sleep = p.latest.due(p.cfg.Now().UnixNano(), batch[:0])
		msgs = p.sendHeld(batch, msgs)
		clear(batch)
		timer.Reset(sleep)
	}
}
