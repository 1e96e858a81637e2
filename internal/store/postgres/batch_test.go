package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

// TestUpdateBatch runs batches of UpdateOrder calls as a loop does
// (updateBatch): each call's failure is its own, calls of one order see
// each other's writes and get gapless seqs, and a change the database
// refuses fails alone, the other calls of its batch committing.
func TestUpdateBatch(t *testing.T) {
	s := openTest(t, 4)
	ctx := context.Background()
	user := func(email string, role delivery.Role, restaurant string) delivery.User {
		u, err := s.CreateUser(ctx, delivery.User{Email: email, Name: email, Role: role, PasswordHash: "h"}, delivery.Restaurant{Name: restaurant})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	customer := user("c@example.com", delivery.RoleCustomer, "")
	staff := user("r@example.com", delivery.RoleRestaurant, "Pizza")
	courier := user("k@example.com", delivery.RoleCourier, "")
	newOrder := func() delivery.Order {
		o, _, err := s.CreateOrder(ctx, delivery.Order{CustomerID: customer.ID, RestaurantID: staff.RestaurantID,
			TotalCents: 100, DeliveryAddress: "Main Street 1"}, delivery.IdempotencyKey{})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	// calls counts the runs of each call's mutate.
	calls := map[*updateReq]int{}
	req := func(id delivery.ID, mutate func(*delivery.Order) (delivery.Change, error)) *updateReq {
		r := &updateReq{ctx: ctx, id: id, done: make(chan updateRes, 1)}
		r.mutate = func(o *delivery.Order) (delivery.Change, error) {
			calls[r]++
			return mutate(o)
		}
		return r
	}
	note := func(text string) func(*delivery.Order) (delivery.Change, error) {
		return func(o *delivery.Order) (delivery.Change, error) {
			o.Notes = text
			return delivery.Change{Type: "note"}, nil
		}
	}
	answer := func(t *testing.T, r *updateReq) updateRes {
		t.Helper()
		select {
		case res := <-r.done:
			return res
		default:
			t.Fatal("call not answered")
			return updateRes{}
		}
	}
	wantSeq := func(t *testing.T, r *updateReq, seq int64, notes string) {
		t.Helper()
		res := answer(t, r)
		if res.err != nil || res.panicked != nil || res.o.Seq != seq || res.ev.Seq != seq || res.o.Notes != notes {
			t.Fatalf("order %s: %+v, want seq %d with notes %q", r.id, res, seq, notes)
		}
	}
	wantLog := func(t *testing.T, id delivery.ID, seqs ...int64) {
		t.Helper()
		evs, err := s.EventsAfter(ctx, id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, ev := range evs {
			got = append(got, ev.Seq)
		}
		if len(got) != len(seqs) {
			t.Fatalf("order %s: seqs %v in the log, want %v", id, got, seqs)
		}
		for i := range got {
			if got[i] != seqs[i] {
				t.Fatalf("order %s: seqs %v in the log, want %v", id, got, seqs)
			}
		}
		o, err := s.OrderByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if o.Seq != seqs[len(seqs)-1] {
			t.Fatalf("order %s at seq %d, want %d", id, o.Seq, seqs[len(seqs)-1])
		}
	}

	t.Run("failures of their own", func(t *testing.T) {
		a, b, c := newOrder(), newOrder(), newOrder()
		errRefused := errors.New("refused")
		batch := []*updateReq{
			req(a.ID, note("one")),
			req(a.ID, func(*delivery.Order) (delivery.Change, error) { return delivery.Change{}, errRefused }),
			req(b.ID, func(*delivery.Order) (delivery.Change, error) { panic("mutate panicked") }),
			req(a.ID, func(o *delivery.Order) (delivery.Change, error) {
				if o.Notes != "one" {
					t.Errorf("second change of the batch read notes %q, want the first's", o.Notes)
				}
				return note("two")(o)
			}),
			req(c.ID, note("three")),
			req(1<<40, note("none")),
		}
		s.updateBatch(batch)
		wantSeq(t, batch[0], 2, "one")
		if res := answer(t, batch[1]); !errors.Is(res.err, errRefused) {
			t.Errorf("refused call: %+v", res)
		}
		if res := answer(t, batch[2]); res.panicked != "mutate panicked" {
			t.Errorf("panicking call: %+v", res)
		}
		wantSeq(t, batch[3], 3, "two")
		wantSeq(t, batch[4], 2, "three")
		if res := answer(t, batch[5]); delivery.ErrorCode(res.err) != delivery.ENOTFOUND {
			t.Errorf("call on no order: %+v", res)
		}
		wantLog(t, a.ID, 1, 2, 3)
		wantLog(t, b.ID, 1)
		wantLog(t, c.ID, 1, 2)
		for i, r := range batch[:5] {
			if calls[r] != 1 {
				t.Errorf("call %d: mutate ran %d times, want once (one transaction)", i, calls[r])
			}
		}
	})

	t.Run("a change the database refuses", func(t *testing.T) {
		a, b := newOrder(), newOrder()
		batch := []*updateReq{
			req(a.ID, note("one")),
			req(b.ID, func(o *delivery.Order) (delivery.Change, error) {
				o.Status = "bogus" // the CHECK constraint refuses it
				return delivery.Change{Type: delivery.EventOrderStatus}, nil
			}),
			req(a.ID, note("two")),
		}
		s.updateBatch(batch)
		wantSeq(t, batch[0], 2, "one")
		if res := answer(t, batch[1]); res.err == nil {
			t.Errorf("refused change: %+v, want the constraint's error", res)
		}
		wantSeq(t, batch[2], 3, "two")
		wantLog(t, a.ID, 1, 2, 3)
		wantLog(t, b.ID, 1)
		if calls[batch[0]] != 2 {
			t.Errorf("mutate ran %d times, want twice: in the batch rolled back, then alone", calls[batch[0]])
		}
	})

	t.Run("MaxActive sees the batch's earlier claims", func(t *testing.T) {
		a, b := newOrder(), newOrder()
		claim := func(o *delivery.Order) (delivery.Change, error) {
			o.Status, o.CourierID = delivery.StatusAccepted, &courier.ID
			return delivery.Change{Type: delivery.EventOrderAssigned, MaxActive: 1}, nil
		}
		batch := []*updateReq{req(a.ID, claim), req(b.ID, claim)}
		s.updateBatch(batch)
		if res := answer(t, batch[0]); res.err != nil || res.o.CourierID == nil {
			t.Fatalf("first claim: %+v", res)
		}
		if res := answer(t, batch[1]); delivery.ErrorCode(res.err) != delivery.ETOOMANYACTIVE {
			t.Fatalf("second claim: %+v, want ETOOMANYACTIVE", res)
		}
		wantLog(t, a.ID, 1, 2)
		wantLog(t, b.ID, 1)
	})
}
