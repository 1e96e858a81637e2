package hub

import (
	"context"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// openOrders is an order service that lets everyone subscribe to every
// channel (an order channel at the order's seq in orders) and serves no
// command: the hub's tests are about delivery, not order rules.
type openOrders struct {
	orders interface {
		OrderByID(ctx context.Context, id delivery.ID) (delivery.Order, error)
	}
}

var _ Orders = openOrders{}

func (o openOrders) MaySubscribe(ctx context.Context, _ delivery.Actor, channel string) (int64, error) {
	ch, err := wire.ParseChannel(channel)
	if err != nil || ch.Kind != wire.KindOrder {
		return 0, err
	}
	order, err := o.orders.OrderByID(ctx, ch.ID)
	return order.Seq, err
}

func notServed() error { return delivery.Errorf(wire.CodeNotImplemented, "not served in hub tests") }

func (openOrders) PostMessage(context.Context, delivery.Actor, delivery.ID, delivery.MessageInput) (delivery.Message, bool, error) {
	return delivery.Message{}, false, notServed()
}
func (openOrders) MarkRead(context.Context, delivery.Actor, delivery.ID, int64) (delivery.ReadMark, bool, error) {
	return delivery.ReadMark{}, false, notServed()
}
func (openOrders) UpdateLocation(context.Context, delivery.Actor, delivery.LocationUpdate) (delivery.Location, error) {
	return delivery.Location{}, notServed()
}
func (openOrders) MayType(context.Context, delivery.Actor, delivery.ID) (delivery.Publication, error) {
	return delivery.Publication{}, notServed()
}
func (openOrders) Latest(context.Context, delivery.Actor, string) ([]delivery.Publication, error) {
	return nil, nil
}

// testConfig is the Config of a hub on bus reading log, with a publisher
// on bus that tb closes.
func testConfig(tb testing.TB, log interface {
	EventLog
	OrderByID(ctx context.Context, id delivery.ID) (delivery.Order, error)
}, bus delivery.Bus) Config {
	tb.Helper()
	pub, err := NewPublisher(PublisherConfig{Bus: bus})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pub.Close)
	return Config{Events: log, Orders: openOrders{log}, Bus: bus, Publisher: pub, Tokens: noTokens{}}
}

// startHub starts a hub of cfg that tb shuts down, and then closes its
// bus.
func startHub(tb testing.TB, cfg Config) *Hub {
	tb.Helper()
	h, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		defer cancel()
		_ = h.Shutdown(ctx)
		_ = cfg.Bus.Close()
	})
	return h
}
