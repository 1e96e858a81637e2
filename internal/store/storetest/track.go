package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// testTrackLinks: a link is found by its hash only, belongs to its order,
// and its deletion records the end of its session for the order's
// customer; deleted, it is found no more.
func testTrackLinks(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	other := f.createOrder(t, f.customer2.ID, f.r)
	link, err := s.CreateTrackLink(ctx, o.ID, "hash-a", 10)
	must(t, err)
	wantUTCMicro(t, "CreatedAt", link.CreatedAt)
	if link.ID == 0 || link.OrderID != o.ID || link.Hash != "hash-a" {
		t.Fatalf("created %+v", link)
	}
	got, err := s.TrackLinkByHash(ctx, "hash-a")
	must(t, err)
	deepEqual(t, "by hash", got, link)
	_, err = s.TrackLinkByHash(ctx, "hash-b")
	wantCode(t, err, delivery.ENOTFOUND)
	_, err = s.CreateTrackLink(ctx, 9999, "hash-x", 10)
	wantCode(t, err, delivery.ENOTFOUND)

	links, err := s.TrackLinks(ctx, o.ID)
	must(t, err)
	deepEqual(t, "links of the order", links, []delivery.TrackLink{{ID: link.ID, OrderID: o.ID, CreatedAt: link.CreatedAt}})
	links, err = s.TrackLinks(ctx, other.ID)
	must(t, err)
	if links == nil || len(links) != 0 {
		t.Errorf("links of an order with none: %#v, want an empty list", links)
	}

	// Another order's id with this link's is no such link.
	now := time.Now()
	wantCode(t, s.DeleteTrackLink(ctx, other.ID, link.ID, now), delivery.ENOTFOUND)
	must(t, s.DeleteTrackLink(ctx, o.ID, link.ID, now))
	wantCode(t, s.DeleteTrackLink(ctx, o.ID, link.ID, now), delivery.ENOTFOUND)
	_, err = s.TrackLinkByHash(ctx, "hash-a")
	wantCode(t, err, delivery.ENOTFOUND)
	revs, err := s.RevokedSessions(ctx, now.Add(-time.Minute))
	must(t, err)
	var found bool
	for _, r := range revs {
		if r.SessionID == delivery.TrackSession(link.ID) {
			found = r.UserID == f.customer.ID
		}
	}
	if !found {
		t.Fatalf("revocations %+v: want %s of the customer %s", revs, delivery.TrackSession(link.ID), f.customer.ID)
	}
	// The deleted link was the newest: its id, which names an ended
	// session, is not given again.
	next, err := s.CreateTrackLink(ctx, o.ID, "hash-c", 10)
	must(t, err)
	if next.ID <= link.ID {
		t.Errorf("a link after the deletion of the newest got id %s, want one above %s", next.ID, link.ID)
	}
}

// testTrackLinkCap: an order holds at most max links, also when they are
// created at once; a deletion makes room.
func testTrackLinkCap(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var made []delivery.TrackLink
	refused := 0
	for i := range 8 {
		wg.Go(func() {
			link, err := s.CreateTrackLink(ctx, o.ID, fmt.Sprintf("hash-%d", i), 3)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				made = append(made, link)
			case delivery.ErrorCode(err) == delivery.EUNPROCESSABLE:
				refused++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(made) != 3 || refused != 5 {
		t.Fatalf("8 concurrent creations with a cap of 3: %d made, %d refused", len(made), refused)
	}
	// Another order's links are not counted.
	_, err := s.CreateTrackLink(ctx, f.createOrder(t, f.customer.ID, f.r).ID, "hash-other", 3)
	must(t, err)
	_, err = s.CreateTrackLink(ctx, o.ID, "hash-more", 3)
	wantCode(t, err, delivery.EUNPROCESSABLE)
	must(t, s.DeleteTrackLink(ctx, o.ID, made[0].ID, time.Now()))
	_, err = s.CreateTrackLink(ctx, o.ID, "hash-more", 3)
	must(t, err)
}
