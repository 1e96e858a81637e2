package hub

import (
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
	// LatestInterval: a latest-value publication (a courier position) goes
	// out at most this often per channel and courier; default 1 s.
	// LatestTick: how often held-back ones are sent; default 50 ms.
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
	p.latest.slots = make(map[latestKey]*latestSlot)
	go p.latestLoop()
	return p, nil
}

// Close stops the loop of held-back publications (those held are lost:
// newer ones follow) and returns once it ended.
func (p *Publisher) Close() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

// Publish hands pubs to the bus, in order, and returns the first error
// (each is logged): the bus did not take that one. It never blocks on
// sockets. A latest-value publication within its interval is held back,
// a newer one replacing it, and sent when the interval ends.
func (p *Publisher) Publish(ctx context.Context, pubs ...delivery.Publication) error {
	var first error
	now := p.cfg.Now().UnixNano()
	for i := range pubs {
		pub := &pubs[i]
		if pub.Latest && !p.latest.offer(pub, now, int64(p.cfg.LatestInterval)) {
			p.latestHeld.Add(1)
			continue
		}
		if err := p.send(ctx, pub); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (p *Publisher) send(ctx context.Context, pub *delivery.Publication) error {
	p.published.Add(1)
	if pub.Latest {
		p.latestSent.Add(1)
	}
	err := p.cfg.Bus.Publish(ctx, delivery.BusMessage{
		Channel: pub.Channel, Seq: pub.Seq, Frame: encodeFeedEvent(pub.Channel, pub.Event, pub.Order, pub.Seq, pub.Data, pub.Ts),
		Except: pub.Except, AsOf: pub.AsOf, Revoke: pub.Revoke, Courier: pub.Courier,
	})
	if err != nil {
		p.log.Error().Err(err).Str("channel", pub.Channel).Str("event", pub.Event).Msg("publish")
	}
	return err
}

type latestKey struct {
	channel string
	courier delivery.ID
}

// latestSlot is the throttle state of one courier on one channel.
type latestSlot struct {
	sentAt  int64 // Unix ns (publisher clock) of the last send
	held    delivery.Publication
	holding bool
}

// latestThrottle holds the slots of the couriers that sent a position
// within the last interval; the loop drops the others, so it holds at
// most couriers × delivery.MaxActiveOrders slots.
type latestThrottle struct {
	mu    sync.Mutex
	slots map[latestKey]*latestSlot
}

// offer reports whether pub goes out now (the interval since the last
// send ended); otherwise it holds pub unless it holds a newer one.
func (t *latestThrottle) offer(pub *delivery.Publication, now, window int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := latestKey{pub.Channel, pub.Courier}
	sl := t.slots[k]
	if sl == nil {
		t.slots[k] = &latestSlot{sentAt: now}
		return true
	}
	if now-sl.sentAt >= window {
		sl.sentAt, sl.holding = now, false
		return true
	}
	if !sl.holding || sl.held.Ts <= pub.Ts {
		sl.held, sl.holding = *pub, true
	}
	return false
}

// due takes the held publications whose interval ended, appending them to
// out, and forgets slots that hold nothing and no longer delay anything.
func (t *latestThrottle) due(now, window, tick int64, out []delivery.Publication) []delivery.Publication {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, sl := range t.slots {
		if now-sl.sentAt < window {
			continue
		}
		if !sl.holding {
			delete(t.slots, k)
			continue
		}
		out = append(out, sl.held)
		// On schedule when the tick was late by less than a tick: a
		// courier sending every second, a little early now and then,
		// would otherwise fall further behind each second (and lose
		// positions once a second behind). Two sends may so be up to one
		// tick closer than the interval; the rate stays one per interval.
		if next := sl.sentAt + window; now-next < tick {
			sl.sentAt = next
		} else {
			sl.sentAt = now
		}
		sl.holding, sl.held = false, delivery.Publication{}
	}
	return out
}

// latestLoop sends held-back publications when their interval ends: one
// ticker instead of a timer per courier and channel.
func (p *Publisher) latestLoop() {
	defer close(p.done)
	tick := time.NewTicker(p.cfg.LatestTick)
	defer tick.Stop()
	var batch []delivery.Publication // reused: steady traffic allocates no slices
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		batch = p.latest.due(p.cfg.Now().UnixNano(), int64(p.cfg.LatestInterval), int64(p.cfg.LatestTick), batch[:0])
		for i := range batch {
			ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
			_ = p.send(ctx, &batch[i]) // logged; a position lost is followed by the next
			cancel()
		}
		clear(batch)
	}
}
