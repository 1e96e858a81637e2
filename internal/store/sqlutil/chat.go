package sqlutil

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// MessageEvent returns m as AppendMessage stores it on the locked order o
// at now (the next seq, CreatedAt now) with its chat.message event, and o
// with its seq advanced.
func MessageEvent(o delivery.Order, m delivery.Message, now time.Time) (delivery.Order, delivery.Message, delivery.Event, error) {
	o = CloneOrder(o)
	o.Seq++
	m.OrderID, m.Seq, m.CreatedAt = o.ID, o.Seq, now
	data, err := json.Marshal(m)
	if err != nil {
		return delivery.Order{}, delivery.Message{}, delivery.Event{}, fmt.Errorf("encode chat.message: %w", err)
	}
	ev := delivery.Event{OrderID: o.ID, Seq: m.Seq, Type: delivery.EventChatMessage, Data: data, CreatedAt: now}
	return o, m, ev, nil
}

// BeforeBound returns the seq bound of MessagesBefore: before, or past
// every seq when before <= 0 (the latest page).
func BeforeBound(before int64) int64 {
	if before <= 0 {
		return 1<<63 - 1
	}
	return before
}

// Ascending puts a page read newest first (so that LIMIT keeps the newest)
// into ascending seq order.
func Ascending(msgs []delivery.Message) []delivery.Message {
	slices.Reverse(msgs)
	return msgs
}
