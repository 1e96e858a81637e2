package hub

import (
	"encoding/json"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// queued decodes the frames queued for c.
func queued(t *testing.T, c *client) []map[string]any {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, f := range c.queue {
		var m map[string]any
		if err := json.Unmarshal(f, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// TestOpsChannelIsLocal: the ops channel never reaches the bus (no
// Subscribe, and what the bus carries on that name reaches nobody);
// PushLocal gives its event to this hub's subscribers, once each,
// without a seq; the subscriptions are counted by kind.
func TestOpsChannelIsLocal(t *testing.T) {
	h, bus, _ := newGatedHub(t)
	ops := wire.Channel{Kind: wire.KindOps}
	a, b := socketless(h, 1), socketless(h, 2)
	var subs []*subscription
	for _, c := range []*client{a, b} {
		s, err := h.subscribe(c, wire.OpsChannel, ops, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	order := wire.Channel{Kind: wire.KindOrder, ID: 7}
	if _, err := h.subscribe(a, order.String(), order, 0, nil); err != nil {
		t.Fatal(err)
	}
	if n := h.LocalSubscribers(wire.OpsChannel); n != 2 {
		t.Fatalf("LocalSubscribers = %d, want 2", n)
	}
	st := h.Stats()
	if st.SubscriptionsByKind[wire.KindOps] != 2 || st.SubscriptionsByKind[wire.KindOrder] != 1 || st.Subscriptions != 3 {
		t.Fatalf("subscriptions %d by kind %v, want 2 ops and 1 order", st.Subscriptions, st.SubscriptionsByKind)
	}
	bus.mu.Lock()
	subCalls, orderCalls := bus.entered["sub:"+wire.OpsChannel], bus.entered["sub:"+order.String()]
	bus.mu.Unlock()
	if subCalls != 0 || orderCalls != 1 {
		t.Fatalf("bus Subscribe calls: ops %d, order %d; want 0 and 1", subCalls, orderCalls)
	}

	// The bus carries nothing to ops subscribers.
	if err := bus.Publish(t.Context(), delivery.BusMessage{Channel: wire.OpsChannel, Frame: encodeEvent(wire.OpsChannel, "forged", 0, []byte(`{}`), 1)}); err != nil {
		t.Fatal(err)
	}
	h.PushLocal(wire.OpsChannel, wire.EventOpsStats, []byte(`{"instances":[]}`))
	for _, c := range []*client{a, b} {
		frames := queued(t, c)
		if len(frames) != 1 {
			t.Fatalf("user %s: frames %v, want the one ops.stats", c.actor.UserID, frames)
		}
		f := frames[0]
		if f["type"] != "event" || f["channel"] != wire.OpsChannel || f["event"] != wire.EventOpsStats || f["seq"] != nil {
			t.Fatalf("frame %v, want an ops.stats event without seq", f)
		}
		if data, _ := json.Marshal(f["data"]); string(data) != `{"instances":[]}` {
			t.Fatalf("data %s", data)
		}
	}
	if got := h.Stats().Delivered; got != 2 {
		t.Fatalf("delivered %d, want the 2 pushed", got)
	}

	for _, s := range subs {
		h.unsubscribe(s)
	}
	if n := h.LocalSubscribers(wire.OpsChannel); n != 0 {
		t.Fatalf("LocalSubscribers = %d after both left", n)
	}
	h.PushLocal(wire.OpsChannel, wire.EventOpsStats, []byte(`{}`)) // nobody: nothing happens
	bus.mu.Lock()
	unsubCalls := bus.entered["unsub:"+wire.OpsChannel]
	bus.mu.Unlock()
	if unsubCalls != 0 || h.Stats().SubscriptionsByKind[wire.KindOps] != 0 {
		t.Fatalf("after leaving: %d bus Unsubscribe calls, %d ops subscriptions; want none", unsubCalls, h.Stats().SubscriptionsByKind[wire.KindOps])
	}
}
