package server_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// TestSSEUnassignEndsTheCourierStream: a courier taken off an order by
// POST /orders/{id}/unassign gets on its stream the order.unassigned
// event, then the error event {"channel":"order:…","code":"forbidden"}
// (a stream's unsubscribed), and then nothing of that order, on the order
// channel or its feed, whatever happens to the order next (status, chat,
// typing, read marks, a new courier's positions). The stream itself stays.
func TestSSEUnassignEndsTheCourierStream(t *testing.T) {
	forEachRealtimeStore(t, func(t *testing.T, e *rtEnv) {
		w := e.newWorld()
		o := e.claimed(w) // seq 3
		ch := orderChannel(o)
		feed := wire.UserChannel(w.Courier.User.ID)
		courier := e.openSSE(w.Courier, "channels="+ch+"&last_event_id="+ch+"=0")
		cust := e.dial(w.Customer)
		cust.subscribe(ch)
		courier.waitEvents(ch, 3)

		e.must(200, "POST", orderPath(o.ID)+"/unassign", w.Restaurant.Token, map[string]any{"reason": "courier fell ill"}) // 4
		if code := courier.refusal(ch); code != wire.CodeForbidden {
			t.Errorf("%s ended with %q, want forbidden", ch, code)
		}
		expectEndedAfterUnassign(t, courier, ch, 4)

		// The order goes on without the courier.
		e.setStatus(200, o, w.Restaurant, delivery.StatusPreparing, "")      // 5
		msg := e.mustPost(o, w.Customer, "where is my food?", "m-1")         // 6
		e.must(200, "POST", orderPath(o.ID)+"/claim", w.Courier2.Token, nil) // 7
		cust.ok(map[string]any{"type": "typing", "order_id": o.ID})
		cust.ok(map[string]any{"type": "read", "order_id": o.ID, "seq": msg.Seq})
		e.dial(w.Courier2).ok(locationFrame(52.5, 13.4, time.Now().UnixMilli()+1))
		cust.waitNamed(ch, delivery.EventCourierLocation, 1)
		// The barrier comes on the courier's feed, after everything sent to
		// the stream before it: the stream is still open.
		e.barrierOf(courier)

		expectEndedAfterUnassign(t, courier, ch, 4)
		if got := eventNames(courier.events(feed)); !slices.Equal(got, []string{"order.unassigned#4"}) {
			t.Errorf("removed courier's feed: %v, want the unassign and nothing after", got)
		}
		for _, f := range courier.received() {
			if f.Channel != ch && f.Channel != feed {
				t.Errorf("removed courier got %s %s on %s", f.Type, f.Event, f.Channel)
			}
		}
		if got := eventNames(cust.named(ch, delivery.EventOrderAssigned)); !slices.Equal(got, []string{"order.assigned#7"}) {
			t.Errorf("customer on %s: assignments %v, want the new courier's", ch, got)
		}
	})
}
