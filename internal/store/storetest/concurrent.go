package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

// What a store that commits many writes together (group commit) could get
// wrong: a refused or cancelled write among others, seqs of one order
// handed out in one transaction, idempotency keys raced in one batch.

// wantLog fails unless the order's events have seqs 1..n without gaps and
// returns them.
func wantLog(t *testing.T, s delivery.Store, id delivery.ID, n int) []delivery.Event {
	t.Helper()
	evs, err := s.EventsAfter(t.Context(), id, 0, 0)
	must(t, err)
	if len(evs) != n {
		t.Fatalf("%d events, want %d", len(evs), n)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: want 1..%d without gaps", i, ev.Seq, n)
		}
	}
	return evs
}

// testUpdateOrderSomeRefused: among concurrent changes of one order, those
// whose mutate refuses get its error and write nothing, and so do messages
// refused after their first statements (an unknown author); the others
// all commit, with seqs in a row and no lost update.
func testUpdateOrderSomeRefused(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	const n = 120
	errs := make([]error, n)
	msgErrs := make([]error, n/4)
	var wg sync.WaitGroup
	for i := range n / 4 {
		wg.Go(func() {
			_, msgErrs[i] = s.AppendMessage(ctx, delivery.Message{OrderID: o.ID, AuthorID: f.courier.ID + 1000,
				AuthorRole: delivery.RoleCourier, Text: "hi", ClientMsgID: label(i)}, allowAll)
		})
	}
	for i := range n {
		wg.Go(func() {
			_, _, errs[i] = s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
				cur.TotalCents++
				cur.Notes = label(i)
				if i%3 == 0 {
					return delivery.Change{}, errSentinel
				}
				return delivery.Change{Type: delivery.EventOrderStatus}, nil
			})
		})
	}
	wg.Wait()
	for _, err := range msgErrs {
		wantCode(t, err, delivery.ENOTFOUND)
	}
	accepted := map[string]bool{}
	for i := range n {
		switch {
		case i%3 == 0 && errs[i] != errSentinel:
			t.Fatalf("refused update %d: err = %v, want mutate's error", i, errs[i])
		case i%3 != 0 && errs[i] != nil:
			t.Fatalf("update %d: %v", i, errs[i])
		case i%3 != 0:
			accepted[label(i)] = true
		}
	}
	evs := wantLog(t, s, o.ID, 1+len(accepted))
	for _, ev := range evs[1:] {
		notes := decodeOrder(t, ev.Data).Notes
		if !accepted[notes] {
			t.Fatalf("event %d is of update %s, which was not accepted or came twice", ev.Seq, notes)
		}
		delete(accepted, notes)
	}
	got, err := s.OrderByID(ctx, o.ID)
	must(t, err)
	if want := o.TotalCents + int64(len(evs)-1); got.TotalCents != want {
		t.Fatalf("total %d, want %d: a refused change leaked or an accepted one was lost", got.TotalCents, want)
	}
}

// testCancelledWrite: a call whose context has ended writes nothing and
// returns the context's error; among concurrent calls cancelled at any
// time, every call that succeeded is in the log, once, without gaps.
func testCancelledWrite(t *testing.T, s delivery.Store) {
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	done, cancel := context.WithCancel(t.Context())
	cancel()
	touch := func(cur *delivery.Order) (delivery.Change, error) {
		cur.Notes = "cancelled"
		return delivery.Change{Type: delivery.EventOrderStatus}, nil
	}
	if _, _, err := s.UpdateOrder(done, o.ID, touch); !errors.Is(err, context.Canceled) {
		t.Fatalf("UpdateOrder on an ended context: %v, want context.Canceled", err)
	}
	if _, _, err := s.CreateOrder(done, f.newOrder(f.customer.ID, f.r), delivery.IdempotencyKey{Key: "k", RequestHash: "h"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateOrder on an ended context: %v, want context.Canceled", err)
	}
	if _, err := s.AppendMessage(done, delivery.Message{OrderID: o.ID, AuthorID: f.customer.ID, AuthorRole: delivery.RoleCustomer,
		Text: "hi", ClientMsgID: "c"}, allowAll); !errors.Is(err, context.Canceled) {
		t.Fatalf("AppendMessage on an ended context: %v, want context.Canceled", err)
	}
	got, err := s.OrderByID(t.Context(), o.ID)
	must(t, err)
	deepEqual(t, "order after cancelled calls", got, o)
	wantLog(t, s, o.ID, 1)
	list, err := s.ListOrders(t.Context(), delivery.OrderFilter{All: true})
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("%d orders after a cancelled CreateOrder, want 1", len(list))
	}

	const n = 100
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ctx, cancel := context.WithCancel(t.Context())
		wg.Go(func() {
			_, _, errs[i] = s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
				cur.Notes = label(i)
				return delivery.Change{Type: delivery.EventOrderStatus}, nil
			})
		})
		if i%2 == 0 {
			wg.Go(cancel)
		} else {
			defer cancel()
		}
	}
	wg.Wait()
	written := map[string]bool{}
	evs, err := s.EventsAfter(t.Context(), o.ID, 0, 0)
	must(t, err)
	evs = wantLog(t, s, o.ID, len(evs))
	for _, ev := range evs[1:] {
		notes := decodeOrder(t, ev.Data).Notes
		if written[notes] {
			t.Fatalf("update %s written twice", notes)
		}
		written[notes] = true
	}
	for i := range n {
		if errs[i] == nil && !written[label(i)] {
			t.Fatalf("update %d succeeded but is not in the log", i)
		}
		if errs[i] != nil && i%2 == 1 {
			t.Fatalf("update %d, never cancelled: %v", i, errs[i])
		}
	}
}

// testCreateOrderConcurrentKeys: many keys raced at once each create one
// order; a key raced with another request's hash is EIDEMPOTENCY for it
// and the first order for the others.
func testCreateOrderConcurrentKeys(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	first, created, err := s.CreateOrder(ctx, f.newOrder(f.customer.ID, f.r), delivery.IdempotencyKey{Key: "taken", RequestHash: "h1"})
	if err != nil || !created {
		t.Fatalf("CreateOrder: created=%v, err=%v", created, err)
	}
	const keys, callers = 10, 6
	type call struct {
		o       delivery.Order
		created bool
		err     error
	}
	calls := make([][]call, keys+1)
	var wg sync.WaitGroup
	for k := range keys + 1 {
		calls[k] = make([]call, callers)
		for c := range callers {
			key := delivery.IdempotencyKey{Key: label(k), RequestHash: "h"}
			if k == keys { // the taken key, half of the callers with another request
				key = delivery.IdempotencyKey{Key: "taken", RequestHash: []string{"h1", "h2"}[c%2]}
			}
			wg.Go(func() {
				r := &calls[k][c]
				r.o, r.created, r.err = s.CreateOrder(ctx, f.newOrder(f.customer.ID, f.r), key)
			})
		}
	}
	wg.Wait()
	for k := range keys {
		nCreated := 0
		for c, r := range calls[k] {
			if r.err != nil {
				t.Fatalf("key %d caller %d: %v", k, c, r.err)
			}
			if r.o.ID != calls[k][0].o.ID {
				t.Fatalf("key %d: caller %d got order %s, caller 0 %s", k, c, r.o.ID, calls[k][0].o.ID)
			}
			if r.created {
				nCreated++
			}
		}
		if nCreated != 1 {
			t.Fatalf("key %d: %d callers report created, want 1", k, nCreated)
		}
	}
	for c, r := range calls[keys] {
		if c%2 == 1 {
			wantCode(t, r.err, delivery.EIDEMPOTENCY)
			continue
		}
		if r.err != nil || r.created || r.o.ID != first.ID {
			t.Fatalf("taken key, same request, caller %d: order %s created=%v err=%v; want order %s", c, r.o.ID, r.created, r.err, first.ID)
		}
	}
	list, err := s.ListOrders(ctx, delivery.OrderFilter{All: true})
	must(t, err)
	if len(list) != keys+1 {
		t.Fatalf("%d orders stored, want %d", len(list), keys+1)
	}
}

// testOrderLogMixed: status changes and chat messages (some of them
// retries) racing on one order share its seqs without gaps; a retry gets
// its message's seq.
func testOrderLogMixed(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	const n = 40
	posted := make([]delivery.PostedMessage, n)
	errs := make([]error, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, _, errs[i] = s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
				cur.Notes = label(i)
				return delivery.Change{Type: delivery.EventOrderStatus}, nil
			})
		})
		wg.Go(func() {
			posted[i], errs[n+i] = s.AppendMessage(ctx, delivery.Message{OrderID: o.ID, AuthorID: f.customer.ID,
				AuthorRole: delivery.RoleCustomer, Text: "hi", ClientMsgID: label(i / 2)}, allowAll)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	for i := 0; i < n; i += 2 {
		if a, b := posted[i], posted[i+1]; a.Message.Seq != b.Message.Seq || a.Created == b.Created {
			t.Fatalf("message %s and its retry: seqs %d and %d, created %v and %v; want one seq, one created",
				label(i/2), a.Message.Seq, b.Message.Seq, a.Created, b.Created)
		}
	}
	evs := wantLog(t, s, o.ID, 1+n+n/2)
	messages := 0
	for _, ev := range evs {
		if ev.Type == delivery.EventChatMessage {
			messages++
		}
	}
	if messages != n/2 {
		t.Fatalf("%d chat.message events, want %d", messages, n/2)
	}
}
