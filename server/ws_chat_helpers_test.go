package server_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
)

// stepClock stands still until a test moves it: an interval of the hub
// ends when the test says so, however slowly the test runs.
type stepClock struct {
	base   time.Time
	offset atomic.Int64
}

func newStepClock() *stepClock { return &stepClock{base: time.Now()} }

func (c *stepClock) Now() time.Time          { return c.base.Add(time.Duration(c.offset.Load())) }
func (c *stepClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// withHubClock makes the hub's typing and location intervals, and the
// order service, read clock: a test moves it past an interval instead of
// waiting one out.
func withHubClock(clock *stepClock) func(*app.Config) {
	return func(cfg *app.Config) {
		cfg.Clock = clock.Now
	}
}

// ok sends a frame and fails the test unless it is acked; it returns the ack.
func (c *wsClient) ok(f map[string]any) frame {
	c.t.Helper()
	a := c.request(f)
	if a.Type != "ack" {
		c.t.Fatalf("%s: %v answered %s %s", c.name, f, a.Code, a.Message)
	}
	return a
}

// subscribeSettled subscribes, then waits until the hub finished the
// subscription: the ack comes before the replay and the last position,
// and a second subscribe is answered only after the first was served
// whole (one reader per connection).
func (c *wsClient) subscribeSettled(channel string, since ...int64) {
	c.t.Helper()
	c.subscribe(channel, since...)
	c.subscribe(channel)
}

// named returns the events called event on channel.
func (c *wsClient) named(channel, event string) []frame {
	var out []frame
	for _, f := range c.events(channel) {
		if f.Event == event {
			out = append(out, f)
		}
	}
	return out
}

// waitNamed waits until n events called event arrived on channel.
func (c *wsClient) waitNamed(channel, event string, n int) []frame {
	c.t.Helper()
	c.waitUntil(event+" on "+channel, func([]frame) bool { return len(c.named(channel, event)) >= n })
	return c.named(channel, event)
}

func chatFrame(o delivery.Order, text, clientMsgID string) map[string]any {
	return map[string]any{"type": "chat", "order_id": o.ID, "text": text, "client_msg_id": clientMsgID}
}

func locationFrame(lat, lng float64, ts int64) map[string]any {
	return map[string]any{"type": "location", "lat": lat, "lng": lng, "ts": ts}
}

// positions decodes the courier.location payloads of frames.
func positions(t testing.TB, frames []frame) []delivery.Location {
	t.Helper()
	out := make([]delivery.Location, 0, len(frames))
	for _, f := range frames {
		var loc delivery.Location
		if err := json.Unmarshal(f.Data, &loc); err != nil {
			t.Fatalf("courier.location data %s: %v", f.Data, err)
		}
		if f.Seq != 0 {
			t.Errorf("courier.location with seq %d: it is ephemeral", f.Seq)
		}
		out = append(out, loc)
	}
	return out
}

// lats returns the latitudes of positions: tests tell positions apart by them.
func lats(locs []delivery.Location) []float64 {
	out := make([]float64, 0, len(locs))
	for _, l := range locs {
		out = append(out, l.Lat)
	}
	return out
}
