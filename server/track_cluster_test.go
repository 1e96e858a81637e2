package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/sessions"
	"github.com/ordercast/ordercast/internal/wire"
)

// A viewer on one instance follows an order changed on another, and the
// link's deletion there closes its socket and stream with 4001, over the
// bus (the store is read only hourly here); the end of the order, which
// tells when the links expire, closes a viewer's socket on the other
// instance once that time passed.
func TestTrackLinksAcrossInstances(t *testing.T) {
	c := newCluster(t, 2)
	hourly := instanceOpts{sessions: sessions.Options{Refresh: time.Hour}}
	a, b := c.start(0, hourly), c.start(1, hourly)
	w := a.newWorld()
	o := a.claimed(w)
	l := a.share(o, w)
	track := wire.TrackChannel(o.ID)
	viewer := b.dialViewer(l)
	viewer.subscribe(track)
	stream := b.openSSEAs("viewer stream", "/sse?access_token="+l.Token+"&channels="+track)
	viewer.waitEvents(track, 1)
	stream.waitEvents(track, 1)

	a.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusPreparing, "")
	a.position(w, 52.5, 13.4)
	for _, s := range []subscriber{viewer, stream} {
		s.waitUntil("the status and the position from a", func(fs []frame) bool {
			status, position := false, false
			for _, f := range fs {
				status = status || (f.Event == delivery.EventOrderStatus && strings.Contains(string(f.Data), `"preparing"`))
				position = position || f.Event == delivery.EventCourierLocation
			}
			return status && position
		})
	}

	a.unshare(o, w, l)
	if code := viewer.closedWithin(sessionEndDeadline); code != wire.CloseTokenExpired {
		t.Fatalf("viewer's socket on b closed with %d after the deletion on a, want 4001", code)
	}
	if got := stream.closed(); got.Code != wire.CloseTokenExpired {
		t.Fatalf("viewer's stream on b closed with %+v, want 4001", got)
	}

	// Expiry: the order's end published on a with its links' expiry (an
	// hour on; brought near here, the hour not being waited for) closes
	// the socket on b by b's sweeper.
	second := a.share(o, w)
	late := b.dialViewer(second)
	late.subscribe(track)
	late.waitEvents(track, 1)
	expires := time.Now().Add(300 * time.Millisecond).UnixMilli()
	if err := a.App.Publisher.Publish(context.Background(), delivery.Publication{
		Channel: track, Event: delivery.EventOrderStatus, Data: []byte(`{"status":"delivered"}`), Ts: time.Now().UnixMilli(), AsOf: o.Seq + 10, Expires: expires,
	}); err != nil {
		t.Fatal(err)
	}
	if code := late.closedWithin(sessionEndDeadline); code != wire.CloseTokenExpired {
		t.Fatalf("viewer's socket on b closed with %d once its link expired, want 4001", code)
	}
	if now := time.Now().UnixMilli(); now < expires {
		t.Fatalf("closed at %d, before the expiry %d", now, expires)
	}
}
