package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	courier2 := user("k2@example.com", delivery.RoleCourier, "")
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

	t.Run("one courier a batch", func(t *testing.T) {
		a, b, c := newOrder(), newOrder(), newOrder()
		claim := func(k delivery.User) func(*delivery.Order) (delivery.Change, error) {
			return func(o *delivery.Order) (delivery.Change, error) {
				o.Status, o.CourierID = delivery.StatusAccepted, &k.ID
				return delivery.Change{Type: delivery.EventOrderAssigned, MaxActive: 5}, nil
			}
		}
		batch := []*updateReq{
			req(a.ID, claim(courier2)),
			req(b.ID, claim(courier)), // another courier: the next batch
			req(c.ID, note("c")),
			req(b.ID, note("after the put off claim")), // behind it, in its order
		}
		later := s.updateBatch(batch)
		wantSeq(t, batch[0], 2, "")
		wantSeq(t, batch[2], 2, "c")
		if len(later) != 2 || later[0] != batch[1] || later[1] != batch[3] {
			t.Fatalf("put off %v, want the second claim and the call behind it", later)
		}
		for _, r := range later {
			select {
			case res := <-r.done:
				t.Fatalf("call put off answered: %+v", res)
			default:
			}
		}
		wantLog(t, b.ID, 1)
		if later := s.updateBatch(later); len(later) != 0 {
			t.Fatalf("the next batch put off %d calls", len(later))
		}
		if res := answer(t, batch[1]); res.err != nil || res.o.Seq != 2 || res.o.CourierID == nil || *res.o.CourierID != courier.ID {
			t.Fatalf("claim put off: %+v", res)
		}
		wantSeq(t, batch[3], 3, "after the put off claim")
		wantLog(t, b.ID, 1, 2, 3)
	})

	t.Run("a call whose context ended while queued", func(t *testing.T) {
		a := newOrder()
		ended, cancel := context.WithCancel(ctx)
		cancel()
		gone := req(a.ID, note("gone"))
		gone.ctx = ended
		batch := []*updateReq{gone, req(a.ID, note("kept"))}
		s.updateBatch(batch)
		if res := answer(t, gone); !errors.Is(res.err, context.Canceled) {
			t.Errorf("call cancelled: %+v, want context.Canceled", res)
		}
		if calls[gone] != 0 {
			t.Errorf("mutate of the call cancelled ran %d times", calls[gone])
		}
		wantSeq(t, batch[1], 2, "kept")
		wantLog(t, a.ID, 1, 2)
	})
}

// TestRolledBack classifies the errors of a batch's transaction: before
// the COMMIT went out nothing was written; after, an ERROR (a statement's
// or the COMMIT's) rolled it back, and anything else may have committed.
func TestRolledBack(t *testing.T) {
	severe := func(severity string) error {
		return fmt.Errorf("write orders: %w", &pgconn.PgError{Severity: severity, SeverityUnlocalized: severity, Code: "57P01"})
	}
	network := errors.New("read tcp: connection reset by peer")
	for _, c := range []struct {
		name       string
		err        error
		committing bool
		want       bool
	}{
		{"ERROR before the COMMIT", severe("ERROR"), false, true},
		{"network before the COMMIT", network, false, true},
		{"ERROR with the COMMIT", severe("ERROR"), true, true},
		{"ERROR, severity translated", &pgconn.PgError{Severity: "FEHLER", SeverityUnlocalized: "ERROR"}, true, true},
		{"COMMIT answered ROLLBACK", fmt.Errorf("commit: %w", pgx.ErrTxCommitRollback), true, true},
		{"FATAL with the COMMIT", severe("FATAL"), true, false},
		{"PANIC with the COMMIT", severe("PANIC"), true, false},
		{"network with the COMMIT", network, true, false},
		{"context with the COMMIT", context.DeadlineExceeded, true, false},
	} {
		if got := rolledBack(c.err, c.committing); got != c.want {
			t.Errorf("%s: rolledBack = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestCloseWithCallsQueued closes the store while a batch runs and calls
// wait behind it: the batch commits, and each call queued is answered
// errClosed, none left waiting.
func TestCloseWithCallsQueued(t *testing.T) {
	s := openTest(t, 4)
	ctx := t.Context()
	customer, err := s.CreateUser(ctx, delivery.User{Email: "c@example.com", Name: "c", Role: delivery.RoleCustomer, PasswordHash: "h"}, delivery.Restaurant{})
	if err != nil {
		t.Fatal(err)
	}
	staff, err := s.CreateUser(ctx, delivery.User{Email: "r@example.com", Name: "r", Role: delivery.RoleRestaurant, PasswordHash: "h"}, delivery.Restaurant{Name: "Pizza"})
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := s.CreateOrder(ctx, delivery.Order{CustomerID: customer.ID, RestaurantID: staff.RestaurantID,
		TotalCents: 100, DeliveryAddress: "Main Street 1"}, delivery.IdempotencyKey{})
	if err != nil {
		t.Fatal(err)
	}
	note := func(o *delivery.Order) (delivery.Change, error) {
		o.Notes = "note"
		return delivery.Change{Type: "note"}, nil
	}

	// The first call holds its loop inside its batch until released.
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	first := make(chan error, 1)
	go func() {
		_, _, err := s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
			once.Do(func() { close(entered) })
			<-release
			return note(cur)
		})
		first <- err
	}()
	<-entered
	const n = 5
	queued := make(chan error, n)
	for range n {
		go func() {
			_, _, err := s.UpdateOrder(ctx, o.ID, note)
			queued <- err
		}()
	}
	q := s.updaters.queues[uint64(o.ID)%uint64(len(s.updaters.queues))]
	for deadline := time.Now().Add(10 * time.Second); len(q) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued, want %d", len(q), n)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	<-s.updaters.stop // Close has begun: the loop takes no more calls
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("call in the batch: %v", err)
	}
	for range n {
		if err := <-queued; !errors.Is(err, errClosed) {
			t.Errorf("call queued: %v, want errClosed", err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}
