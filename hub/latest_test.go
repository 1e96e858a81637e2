package hub

import (
	"context"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// latestOrders is openOrders whose Latest gives pubs: the courier's last
// position as the order service read it.
type latestOrders struct {
	openOrders
	pubs []delivery.Publication
}

func (o latestOrders) Latest(context.Context, delivery.Actor, string) ([]delivery.Publication, error) {
	return o.pubs, nil
}

// positionMsg is the bus message of a position with data on ch as of seq.
func positionMsg(ch string, asOf int64, data string, ts int64) delivery.BusMessage {
	return delivery.BusMessage{Channel: ch, AsOf: asOf, Courier: 9,
		Frame: encodeEvent(ch, delivery.EventCourierLocation, 0, []byte(data), ts)}
}

// TestLatestNotGivenTwice: the position a subscriber was given on
// subscribe, read from the position store while the bus still carried it,
// is not given again when the bus delivers it (the frame's own ts is
// another: the publish's); the next position is.
func TestLatestNotGivenTwice(t *testing.T) {
	store := &logStore{events: map[delivery.ID][]delivery.Event{}}
	id := delivery.ID(7)
	store.commit(id)
	ch := wire.Channel{Kind: wire.KindOrder, ID: id}
	first, next := `{"lat":52.0001,"lng":13.4,"ts":1000}`, `{"lat":52.0002,"lng":13.4,"ts":2000}`
	cfg := testConfig(t, store, newGateBus())
	cfg.Orders = latestOrders{openOrders{store}, []delivery.Publication{{Channel: ch.String(), Event: delivery.EventCourierLocation,
		Data: []byte(first), Ts: 1500, AsOf: 1, Courier: 9, Latest: true}}}
	h := startHub(t, cfg)
	c := socketless(h, 1)
	s, err := h.subscribe(c, ch.String(), ch, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.catchUp(s, true); err != nil {
		t.Fatal(err)
	}
	h.sendLatest(s)
	in := (*inbound)(h)
	in.HandleMessage(positionMsg(ch.String(), 1, first, 1001))
	in.HandleMessage(positionMsg(ch.String(), 1, next, 2001))
	var got []string
	c.mu.Lock()
	for _, f := range c.queue {
		if _, ev, _ := wire.EventNames(f); string(ev) == delivery.EventCourierLocation {
			data, _ := wire.EventData(f)
			got = append(got, string(data))
		}
	}
	c.mu.Unlock()
	if len(got) != 2 || got[0] != first || got[1] != next {
		t.Fatalf("positions given %q, want %s once, then %s", got, first, next)
	}
}
