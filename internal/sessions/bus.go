package sessions

import (
	"context"
	"sync"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// subscribeTimeout bounds one attempt to subscribe the ControlChannel;
// retryDelay separates attempts while the bus's backend is unreachable.
const (
	subscribeTimeout = 10 * time.Second
	retryDelay       = time.Second
)

// Bus returns b with the ControlChannel taken out of it: give the result
// to the hub. Its Start subscribes the ControlChannel (retrying in the
// background until the backend answers) and hands that channel's messages
// to the list instead of the hub; after a gap it also reads the store at
// once. The list's Announce then publishes on b.
func (l *List) Bus(b delivery.Bus) delivery.Bus {
	l.mu.Lock()
	l.bus = b
	l.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	return &controlBus{Bus: b, list: l, ctx: ctx, cancel: cancel}
}

type controlBus struct {
	delivery.Bus
	list   *List
	ctx    context.Context // ends with Close: the subscribing goroutine
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (c *controlBus) Start(h delivery.BusHandler) error {
	if err := c.Bus.Start(&controlHandler{BusHandler: h, list: c.list}); err != nil {
		return err
	}
	c.wg.Add(1)
	go c.subscribe()
	return nil
}

// subscribe subscribes the ControlChannel, retrying until it succeeds or
// the bus closes. Meanwhile the list's periodic read covers what is
// missed; once subscribed, the backend's reconnects keep it subscribed.
func (c *controlBus) subscribe() {
	defer c.wg.Done()
	for {
		ctx, cancel := context.WithTimeout(c.ctx, subscribeTimeout)
		err := c.Bus.Subscribe(ctx, ControlChannel)
		cancel()
		if err == nil {
			return
		}
		c.list.log.Warn().Err(err).Msg("subscribe " + ControlChannel + "; retrying")
		select {
		case <-c.ctx.Done():
			return
		case <-c.list.stop: // closed first, or its bus closed apart
			return
		case <-time.After(retryDelay):
		}
	}
}

func (c *controlBus) Close() error {
	c.cancel()
	c.wg.Wait()
	return c.Bus.Close()
}

type controlHandler struct {
	delivery.BusHandler
	list *List
}

func (h *controlHandler) HandleMessage(msg delivery.BusMessage) {
	if msg.Channel == ControlChannel {
		h.list.received(msg.Frame)
		return
	}
	h.BusHandler.HandleMessage(msg)
}

func (h *controlHandler) HandleGap() {
	h.list.refreshNow()
	h.BusHandler.HandleGap()
}
