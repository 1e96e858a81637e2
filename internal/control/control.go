// Package control carries what the instances tell one another over the
// bus (ended sessions, couriers whose orders changed) on channels of their
// own, which no client can subscribe to (wire.ParseChannel refuses them)
// and which the hub never sees.
package control

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/delivery"
)

// subscribeTimeout bounds one attempt to subscribe a control channel;
// retryDelay separates attempts while the bus's backend is unreachable.
const (
	subscribeTimeout = 10 * time.Second
	retryDelay       = time.Second
)

// Listener takes the messages of one control channel.
type Listener struct {
	Channel string
	// Message takes a message's frame; it must not block.
	Message func(frame []byte)
	// Gap is called after the bus may have lost messages (the backend
	// reconnected): what was missed must be made up for.
	Gap func()
	// Done, when closed, stops the retries of a listener that ended
	// before the bus (nil: only Close stops them).
	Done <-chan struct{}
}

// Bus returns b with l's channel taken out of it: its Start subscribes
// the channel (retrying in the background until the backend answers) and
// hands its messages to l instead of the handler; the backend's
// reconnects keep it subscribed. Publishing on the channel goes through b.
func Bus(b delivery.Bus, l Listener, log zerolog.Logger) delivery.Bus {
	ctx, cancel := context.WithCancel(context.Background())
	return &bus{Bus: b, l: l, log: log, ctx: ctx, cancel: cancel}
}

type bus struct {
	delivery.Bus
	l      Listener
	log    zerolog.Logger
	ctx    context.Context // ends with Close: the subscribing goroutine
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (c *bus) Start(h delivery.BusHandler) error {
	if err := c.Bus.Start(&handler{BusHandler: h, l: c.l}); err != nil {
		return err
	}
	c.wg.Add(1)
	go c.subscribe()
	return nil
}

// subscribe subscribes the channel, retrying until it succeeds or the bus
// closes. The listener makes up for what it misses meanwhile.
func (c *bus) subscribe() {
	defer c.wg.Done()
	for {
		ctx, cancel := context.WithTimeout(c.ctx, subscribeTimeout)
		err := c.Bus.Subscribe(ctx, c.l.Channel)
		cancel()
		if err == nil {
			return
		}
		c.log.Warn().Err(err).Msg("subscribe " + c.l.Channel + "; retrying")
		select {
		case <-c.ctx.Done():
			return
		case <-c.l.Done:
			return
		case <-time.After(retryDelay):
		}
	}
}

func (c *bus) Close() error {
	c.cancel()
	c.wg.Wait()
	return c.Bus.Close()
}

type handler struct {
	delivery.BusHandler
	l Listener
}

func (h *handler) HandleMessage(msg delivery.BusMessage) {
	if msg.Channel == h.l.Channel {
		h.l.Message(msg.Frame)
		return
	}
	h.BusHandler.HandleMessage(msg)
}

func (h *handler) HandleGap() {
	h.l.Gap()
	h.BusHandler.HandleGap()
}
