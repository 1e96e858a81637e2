package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

func testCreateOrder(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	in := f.newOrder(f.customer.ID, f.r)
	// The store decides these.
	in.Status, in.Seq, in.RestaurantName = delivery.StatusDelivered, 9, "Forged"
	at := in.CreatedAt.Add(time.Hour)
	in.FinishedAt, in.AssignedAt, in.AcceptedAt = &at, &at, &at
	in.ETA = &delivery.ETA{DeliverAt: 1, Basis: "forged", At: 1}
	in.RestaurantPlace = &delivery.Place{Lat: 1, Lng: 2}
	in.PickupStay, in.DropoffStay = delivery.Stay{From: 1, Last: 2, Arrived: true}, delivery.Stay{From: 3}
	o, created, err := s.CreateOrder(ctx, in, delivery.IdempotencyKey{})
	must(t, err)
	if !created || o.ID <= 0 || o.Status != delivery.StatusPlaced || o.Seq != 1 || o.CourierID != nil {
		t.Fatalf("CreateOrder = %+v, created=%v: want a placed order with seq 1", o, created)
	}
	wantUTCMicro(t, "CreatedAt", o.CreatedAt)
	if !o.UpdatedAt.Equal(o.CreatedAt) {
		t.Fatalf("UpdatedAt %v != CreatedAt %v", o.UpdatedAt, o.CreatedAt)
	}
	want := in
	want.ID, want.Status, want.Seq, want.CreatedAt, want.UpdatedAt = o.ID, delivery.StatusPlaced, 1, o.CreatedAt, o.UpdatedAt
	want.RestaurantName = "Pizza"
	want.FinishedAt, want.AssignedAt, want.AcceptedAt, want.ETA, want.RestaurantPlace = nil, nil, nil, nil, nil
	want.PickupStay, want.DropoffStay = delivery.Stay{}, delivery.Stay{}
	deepEqual(t, "CreateOrder", o, want)
	got, err := s.OrderByID(ctx, o.ID)
	must(t, err)
	deepEqual(t, "OrderByID", got, o)

	evs, err := s.EventsAfter(ctx, o.ID, 0, 0)
	must(t, err)
	if len(evs) != 1 || evs[0].OrderID != o.ID || evs[0].Seq != 1 || evs[0].Type != delivery.EventOrderCreated || !evs[0].CreatedAt.Equal(o.CreatedAt) {
		t.Fatalf("events = %+v: want one order.created with seq 1", evs)
	}
	deepEqual(t, "order.created data", decodeOrder(t, evs[0].Data), o)

	// Items are never nil.
	bare := f.newOrder(f.customer.ID, f.r)
	bare.Items = nil
	o2, _, err := s.CreateOrder(ctx, bare, delivery.IdempotencyKey{})
	must(t, err)
	got, err = s.OrderByID(ctx, o2.ID)
	must(t, err)
	if o2.Items == nil || got.Items == nil || len(got.Items) != 0 {
		t.Fatalf("Items = %#v / %#v, want empty non-nil slices", o2.Items, got.Items)
	}

	_, err = s.OrderByID(ctx, o2.ID+1000)
	wantCode(t, err, delivery.ENOTFOUND)
	_, _, err = s.CreateOrder(ctx, f.newOrder(f.customer.ID, f.r2+1000), delivery.IdempotencyKey{})
	wantCode(t, err, delivery.ENOTFOUND)
}

func testCreateOrderIdempotent(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	key := delivery.IdempotencyKey{Key: "k1", RequestHash: "h1"}
	first, created, err := s.CreateOrder(ctx, f.newOrder(f.customer.ID, f.r), key)
	must(t, err)
	if !created {
		t.Fatal("first CreateOrder: created=false")
	}
	again, created, err := s.CreateOrder(ctx, f.newOrder(f.customer.ID, f.r), key)
	must(t, err)
	if created {
		t.Fatal("retry: created=true")
	}
	deepEqual(t, "retry", again, first)

	_, _, err = s.CreateOrder(ctx, f.newOrder(f.customer.ID, f.r2), delivery.IdempotencyKey{Key: "k1", RequestHash: "h2"})
	wantCode(t, err, delivery.EIDEMPOTENCY)

	// Keys belong to a customer; no key means no deduplication.
	other, created, err := s.CreateOrder(ctx, f.newOrder(f.customer2.ID, f.r), key)
	must(t, err)
	if !created || other.ID == first.ID {
		t.Fatalf("another customer's order with the same key: created=%v id=%s", created, other.ID)
	}
	a := f.createOrder(t, f.customer.ID, f.r)
	b := f.createOrder(t, f.customer.ID, f.r)
	if a.ID == b.ID {
		t.Fatal("two orders without a key share an id")
	}
	list, err := s.ListOrders(ctx, delivery.OrderFilter{CustomerID: f.customer.ID})
	must(t, err)
	deepEqual(t, "customer's orders", ids(list), []delivery.ID{b.ID, a.ID, first.ID})
	evs, err := s.EventsAfter(ctx, first.ID, 0, 0)
	must(t, err)
	if len(evs) != 1 {
		t.Fatalf("idempotent order has %d events, want 1", len(evs))
	}
}

func testCreateOrderConcurrentKey(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	const n = 20
	key := delivery.IdempotencyKey{Key: "same", RequestHash: "h"}
	orders := make([]delivery.Order, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			orders[i], created[i], errs[i] = s.CreateOrder(ctx, f.newOrder(f.customer.ID, f.r), key)
		})
	}
	wg.Wait()
	nCreated := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if created[i] {
			nCreated++
		}
		if orders[i].ID != orders[0].ID {
			t.Fatalf("call %d returned order %s, call 0 order %s", i, orders[i].ID, orders[0].ID)
		}
	}
	if nCreated != 1 {
		t.Fatalf("%d calls report created, want 1", nCreated)
	}
	list, err := s.ListOrders(ctx, delivery.OrderFilter{All: true})
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("%d orders stored, want 1", len(list))
	}
}

func testUpdateOrder(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	called := 0
	got, ev, err := s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
		called++
		// mutate may run on a store's goroutine: no t.Fatal in it.
		if !reflect.DeepEqual(*cur, o) {
			t.Errorf("mutate sees:\n got %+v\nwant %+v", *cur, o)
			return delivery.Change{}, errSentinel
		}
		cur.Status = delivery.StatusAccepted
		cur.CourierID = ptr(f.courier.ID)
		cur.Items = append(cur.Items, delivery.OrderItem{MenuItemID: f.item.ID, Name: "extra", Quantity: 1, PriceCents: 1})
		cur.ID, cur.CustomerID = 999, 999 // the order's identity is not mutable
		return delivery.Change{Type: delivery.EventOrderAssigned}, nil
	})
	must(t, err)
	if called < 1 { // a store may run it again (UpdateOrder)
		t.Fatalf("mutate called %d times", called)
	}
	if got.ID != o.ID || got.CustomerID != o.CustomerID || got.Seq != 2 || got.Status != delivery.StatusAccepted ||
		got.CourierID == nil || *got.CourierID != f.courier.ID || len(got.Items) != 2 || !got.CreatedAt.Equal(o.CreatedAt) {
		t.Fatalf("UpdateOrder = %+v", got)
	}
	wantUTCMicro(t, "UpdatedAt", got.UpdatedAt)
	if got.UpdatedAt.Before(o.UpdatedAt) {
		t.Fatalf("UpdatedAt went back: %v < %v", got.UpdatedAt, o.UpdatedAt)
	}
	if ev.OrderID != o.ID || ev.Seq != 2 || ev.Type != delivery.EventOrderAssigned || !ev.CreatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("event = %+v", ev)
	}
	deepEqual(t, "event data (the order after the change)", decodeOrder(t, ev.Data), got)
	if len(o.Items) != 1 {
		t.Fatal("mutate reached the caller's order through its items")
	}
	stored, err := s.OrderByID(ctx, o.ID)
	must(t, err)
	deepEqual(t, "OrderByID", stored, got)
	evs, err := s.EventsAfter(ctx, o.ID, 1, 0)
	must(t, err)
	deepEqual(t, "EventsAfter(1)", evs, []delivery.Event{ev})

	// Unassigning writes NULL again.
	got = f.set(t, o.ID, delivery.StatusAccepted, nil)
	stored, err = s.OrderByID(ctx, o.ID)
	must(t, err)
	if got.Seq != 3 || stored.CourierID != nil {
		t.Fatalf("after unassign: seq %d, courier %v", got.Seq, stored.CourierID)
	}

	_, _, err = s.UpdateOrder(ctx, o.ID+1000, func(*delivery.Order) (delivery.Change, error) {
		t.Error("mutate called for an unknown order")
		return delivery.Change{Type: "x"}, nil
	})
	wantCode(t, err, delivery.ENOTFOUND)
}

func testUpdateOrderChangeData(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	data := map[string]any{"status": "accepted", "note": "ünïcode ✓", "n": 1.5}
	_, ev, err := s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
		cur.Status = delivery.StatusAccepted
		return delivery.Change{Type: delivery.EventOrderStatus, Data: data}, nil
	})
	must(t, err)
	want, err := json.Marshal(data)
	must(t, err)
	if string(ev.Data) != string(want) {
		t.Fatalf("event data %s, want %s", ev.Data, want)
	}
	evs, err := s.EventsAfter(ctx, o.ID, 1, 10)
	must(t, err)
	if len(evs) != 1 || string(evs[0].Data) != string(want) {
		t.Fatalf("stored events %+v: want data %s byte for byte", evs, want)
	}
}

func testUpdateOrderMutateError(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	for _, want := range []error{errSentinel, delivery.Errorf(delivery.EINVALIDTRANSITION, "no")} {
		_, _, err := s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
			cur.Status = delivery.StatusCancelled
			cur.Notes = "changed"
			return delivery.Change{}, want
		})
		if err != want {
			t.Fatalf("UpdateOrder err = %v, want mutate's error unchanged (%v)", err, want)
		}
	}
	got, err := s.OrderByID(ctx, o.ID)
	must(t, err)
	deepEqual(t, "order after refused mutations", got, o)
	evs, err := s.EventsAfter(ctx, o.ID, 0, 0)
	must(t, err)
	if len(evs) != 1 {
		t.Fatalf("%d events after refused mutations, want 1", len(evs))
	}
	// The next accepted change takes seq 2: nothing was consumed.
	if got := f.set(t, o.ID, delivery.StatusAccepted, nil); got.Seq != 2 {
		t.Fatalf("seq after refused mutations = %d, want 2", got.Seq)
	}
}

func testUpdateOrderConcurrent(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	const n = 50
	seqs := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var got delivery.Order
			var ev delivery.Event
			got, ev, errs[i] = s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
				cur.TotalCents++ // a lost update would show in the total
				cur.Notes = label(i)
				return delivery.Change{Type: delivery.EventOrderStatus}, nil
			})
			if errs[i] == nil && ev.Seq != got.Seq {
				errs[i] = fmt.Errorf("event seq %d, order seq %d", ev.Seq, got.Seq)
			}
			seqs[i] = got.Seq
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("update %d: %v", i, errs[i])
		}
		if seqs[i] < 2 || seqs[i] > n+1 || seen[seqs[i]] {
			t.Fatalf("update %d got seq %d: want distinct seqs 2..%d", i, seqs[i], n+1)
		}
		seen[seqs[i]] = true
	}
	got, err := s.OrderByID(ctx, o.ID)
	must(t, err)
	if got.Seq != n+1 || got.TotalCents != o.TotalCents+n {
		t.Fatalf("final seq %d total %d, want %d and %d", got.Seq, got.TotalCents, n+1, o.TotalCents+n)
	}
	evs, err := s.EventsAfter(ctx, o.ID, 0, 0)
	must(t, err)
	if len(evs) != n+1 {
		t.Fatalf("%d events, want %d", len(evs), n+1)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: want 1..%d without gaps", i, ev.Seq, n+1)
		}
	}
	if last := decodeOrder(t, evs[n].Data); last.Notes != got.Notes || last.TotalCents != got.TotalCents {
		t.Fatalf("last event shows %+v, order is %+v", last, got)
	}
}

func testEventsAfter(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	other := f.createOrder(t, f.customer.ID, f.r)
	for range 4 {
		f.set(t, o.ID, delivery.StatusPlaced, nil)
	}
	f.set(t, other.ID, delivery.StatusAccepted, nil)
	seqsOf := func(evs []delivery.Event) []int64 {
		out := []int64{}
		for _, ev := range evs {
			if ev.OrderID != o.ID {
				t.Fatalf("event of order %s in the log of %s", ev.OrderID, o.ID)
			}
			out = append(out, ev.Seq)
		}
		return out
	}
	for _, tc := range []struct {
		after int64
		limit int
		want  []int64
	}{
		{0, 0, []int64{1, 2, 3, 4, 5}},
		{0, 2, []int64{1, 2}},
		{2, 2, []int64{3, 4}},
		{3, 100, []int64{4, 5}},
		{5, 0, []int64{}},
		{-1, 1, []int64{1}},
	} {
		evs, err := s.EventsAfter(ctx, o.ID, tc.after, tc.limit)
		must(t, err)
		deepEqual(t, fmt.Sprintf("EventsAfter(after=%d, limit=%d)", tc.after, tc.limit), seqsOf(evs), tc.want)
	}
	evs, err := s.EventsAfter(ctx, other.ID+1000, 0, 10)
	must(t, err)
	if evs == nil || len(evs) != 0 {
		t.Fatalf("events of an unknown order = %#v, want an empty slice", evs)
	}
}
