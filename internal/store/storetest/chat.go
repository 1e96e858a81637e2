package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

func allowAll(delivery.Order) error { return nil }

// post appends a message by author and fails the test unless it is new.
func (f *fixture) post(t *testing.T, orderID delivery.ID, author delivery.User, clientID string) delivery.PostedMessage {
	t.Helper()
	p, err := f.s.AppendMessage(t.Context(), delivery.Message{
		OrderID: orderID, AuthorID: author.ID, AuthorRole: author.Role, Text: "text " + clientID, ClientMsgID: clientID,
	}, allowAll)
	if err != nil || !p.Created {
		t.Fatalf("AppendMessage(%s): created=%v, err=%v", clientID, p.Created, err)
	}
	return p
}

func testAppendMessage(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	in := delivery.Message{OrderID: o.ID, AuthorID: f.customer.ID, AuthorRole: delivery.RoleCustomer,
		Text: "at the door ✓", ClientMsgID: "c1", Seq: 99}
	var allowed []delivery.Order
	p, err := s.AppendMessage(ctx, in, func(cur delivery.Order) error {
		allowed = append(allowed, cur)
		return nil
	})
	must(t, err)
	if !p.Created || len(allowed) != 1 {
		t.Fatalf("created=%v, allow called %d times", p.Created, len(allowed))
	}
	deepEqual(t, "allow sees the current order", allowed[0], o)
	m := p.Message
	wantUTCMicro(t, "CreatedAt", m.CreatedAt)
	want := in
	want.Seq, want.CreatedAt = 2, m.CreatedAt
	deepEqual(t, "message", m, want)
	if p.Order.Seq != 2 || !p.Order.UpdatedAt.Equal(o.UpdatedAt) || p.Order.Status != o.Status {
		t.Fatalf("order after append = %+v: want seq 2, UpdatedAt and status unchanged", p.Order)
	}
	if p.Event.OrderID != o.ID || p.Event.Seq != 2 || p.Event.Type != delivery.EventChatMessage || !p.Event.CreatedAt.Equal(m.CreatedAt) {
		t.Fatalf("event = %+v", p.Event)
	}
	var payload delivery.Message
	must(t, json.Unmarshal(p.Event.Data, &payload))
	deepEqual(t, "event payload", payload, m)
	stored, err := s.OrderByID(ctx, o.ID)
	must(t, err)
	deepEqual(t, "OrderByID after append", stored, p.Order)
	evs, err := s.EventsAfter(ctx, o.ID, 1, 0)
	must(t, err)
	deepEqual(t, "EventsAfter(1)", evs, []delivery.Event{p.Event})

	// A retry returns the stored message, writes nothing, asks nobody.
	retry := in
	retry.Text = "another text"
	again, err := s.AppendMessage(ctx, retry, func(delivery.Order) error {
		t.Error("allow called on a replay")
		return nil
	})
	must(t, err)
	if again.Created || again.Event.Seq != 0 || again.Order.Seq != 2 {
		t.Fatalf("replay = %+v: want the stored message, no event", again)
	}
	deepEqual(t, "replayed message", again.Message, m)

	// allow's error comes back as it is and nothing is written.
	refused := in
	refused.ClientMsgID = "c2"
	_, err = s.AppendMessage(ctx, refused, func(delivery.Order) error { return errSentinel })
	if err != errSentinel {
		t.Fatalf("err = %v, want allow's error unwrapped", err)
	}
	// The same client_msg_id on another order is another message.
	o2 := f.createOrder(t, f.customer.ID, f.r)
	other := in
	other.OrderID = o2.ID
	p2, err := s.AppendMessage(ctx, other, allowAll)
	must(t, err)
	if !p2.Created || p2.Message.Seq != 2 {
		t.Fatalf("other order: %+v", p2)
	}
	evs, err = s.EventsAfter(ctx, o.ID, 0, 0)
	must(t, err)
	if len(evs) != 2 {
		t.Fatalf("%d events after replay and refusal, want 2", len(evs))
	}

	unknown := in
	unknown.OrderID = o2.ID + 1000
	_, err = s.AppendMessage(ctx, unknown, allowAll)
	wantCode(t, err, delivery.ENOTFOUND)
}

// testAppendMessageConcurrent: retries of one message racing each other
// store it once; distinct messages racing get seqs without gaps.
func testAppendMessageConcurrent(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	const n = 10
	posted := make([]delivery.PostedMessage, 2*n)
	errs := make([]error, 2*n)
	var wg sync.WaitGroup
	for i := range 2 * n {
		clientID := "same"
		if i >= n {
			clientID = label(i)
		}
		wg.Go(func() {
			posted[i], errs[i] = s.AppendMessage(ctx, delivery.Message{OrderID: o.ID, AuthorID: f.staff.ID,
				AuthorRole: delivery.RoleRestaurant, Text: "hi", ClientMsgID: clientID}, allowAll)
		})
	}
	wg.Wait()
	created := 0
	for i := range 2 * n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if i < n {
			if posted[i].Created {
				created++
			}
			if posted[i].Message != posted[0].Message {
				t.Fatalf("retry %d got %+v, retry 0 %+v", i, posted[i].Message, posted[0].Message)
			}
		}
	}
	if created != 1 {
		t.Fatalf("%d retries report created, want 1", created)
	}
	msgs, err := s.MessagesBefore(ctx, o.ID, 0, 100)
	must(t, err)
	if len(msgs) != n+1 {
		t.Fatalf("%d messages stored, want %d", len(msgs), n+1)
	}
	for i, m := range msgs {
		if m.Seq != int64(i+2) {
			t.Fatalf("message %d has seq %d, want %d (no gaps)", i, m.Seq, i+2)
		}
	}
}

// testMessagesBefore: pages of messages agree with the chat.message events
// of the log, interleaved with order events.
func testMessagesBefore(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	other := f.createOrder(t, f.customer.ID, f.r)
	f.post(t, other.ID, f.customer, "elsewhere")
	for i := range 7 {
		f.post(t, o.ID, f.customer, label(i))
		if i%3 == 0 {
			f.set(t, o.ID, delivery.StatusAccepted, nil)
		}
	}
	evs, err := s.EventsAfter(ctx, o.ID, 0, 0)
	must(t, err)
	var fromLog []delivery.Message
	for _, ev := range evs {
		if ev.Type == delivery.EventChatMessage {
			var m delivery.Message
			must(t, json.Unmarshal(ev.Data, &m))
			fromLog = append(fromLog, m)
		}
	}
	all, err := s.MessagesBefore(ctx, o.ID, 0, 0)
	must(t, err)
	deepEqual(t, "every message vs the log", all, fromLog)

	var paged []delivery.Message
	before := int64(0)
	for range 10 {
		page, err := s.MessagesBefore(ctx, o.ID, before, 3)
		must(t, err)
		if len(page) == 0 {
			break
		}
		if !slices.IsSortedFunc(page, func(a, b delivery.Message) int { return int(a.Seq - b.Seq) }) {
			t.Fatalf("page %v not in ascending seq order", page)
		}
		paged = append(page, paged...)
		before = page[0].Seq
	}
	deepEqual(t, "pages joined", paged, fromLog)

	latest, err := s.MessagesBefore(ctx, o.ID, 0, 2)
	must(t, err)
	deepEqual(t, "latest two", latest, fromLog[5:])
	none, err := s.MessagesBefore(ctx, o.ID, fromLog[0].Seq, 10)
	must(t, err)
	if none == nil || len(none) != 0 {
		t.Fatalf("before the first message: %#v, want an empty non-nil page", none)
	}
}

func testMarkRead(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	mark := func(u delivery.User, seq int64, wantSeq int64, wantMoved bool) {
		t.Helper()
		r, moved, err := s.MarkRead(ctx, delivery.ReadMark{OrderID: o.ID, UserID: u.ID, Role: u.Role, Seq: seq})
		must(t, err)
		want := delivery.ReadMark{OrderID: o.ID, UserID: u.ID, Role: u.Role, Seq: wantSeq}
		if r != want || moved != wantMoved {
			t.Fatalf("MarkRead(%s, %d) = %+v, moved=%v; want %+v, moved=%v", u.Email, seq, r, moved, want, wantMoved)
		}
	}
	mark(f.customer, 3, 3, true)
	mark(f.customer, 5, 5, true)
	mark(f.customer, 5, 5, false)
	mark(f.customer, 2, 5, false)
	mark(f.staff, 1, 1, true) // marks are per user
	mark(f.customer, 6, 6, true)

	_, _, err := s.MarkRead(ctx, delivery.ReadMark{OrderID: o.ID + 1000, UserID: f.customer.ID, Seq: 1})
	wantCode(t, err, delivery.ENOTFOUND)

	// Racing marks leave the highest.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, _, err := s.MarkRead(ctx, delivery.ReadMark{OrderID: o.ID, UserID: f.courier.ID, Seq: int64(i + 1)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	mark(f.courier, 1, 20, false)
}

func testUnreadCounts(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	a := f.createOrder(t, f.customer.ID, f.r)
	b := f.createOrder(t, f.customer.ID, f.r)
	quiet := f.createOrder(t, f.customer.ID, f.r)
	f.post(t, a.ID, f.customer, "a1") // seq 2
	f.post(t, a.ID, f.staff, "a2")    // seq 3
	f.post(t, a.ID, f.staff, "a3")    // seq 4
	f.post(t, b.ID, f.staff, "b1")    // seq 2
	orders := []delivery.ID{a.ID, b.ID, quiet.ID}
	unread := func(u delivery.User, ids []delivery.ID, want map[delivery.ID]int) {
		t.Helper()
		got, err := s.UnreadCounts(ctx, u.ID, ids)
		must(t, err)
		deepEqual(t, "unread of "+u.Email, got, want)
	}
	unread(f.customer, orders, map[delivery.ID]int{a.ID: 2, b.ID: 1})
	unread(f.staff, orders, map[delivery.ID]int{a.ID: 1})
	unread(f.customer, []delivery.ID{b.ID}, map[delivery.ID]int{b.ID: 1})
	unread(f.customer, nil, map[delivery.ID]int{})

	_, _, err := s.MarkRead(ctx, delivery.ReadMark{OrderID: a.ID, UserID: f.customer.ID, Seq: 3})
	must(t, err)
	unread(f.customer, orders, map[delivery.ID]int{a.ID: 1, b.ID: 1})
	_, _, err = s.MarkRead(ctx, delivery.ReadMark{OrderID: b.ID, UserID: f.customer.ID, Seq: 2})
	must(t, err)
	unread(f.customer, orders, map[delivery.ID]int{a.ID: 1})
	unread(f.courier, orders, map[delivery.ID]int{a.ID: 3, b.ID: 1})
}

func testActiveOrdersOfCourier(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	var want []delivery.ActiveOrder
	for _, st := range delivery.Statuses {
		o := f.createOrder(t, f.customer.ID, f.r)
		o = f.set(t, o.ID, st, ptr(f.courier.ID))
		if delivery.IsActiveDelivery(o) {
			if o.AssignedAt == nil {
				t.Fatalf("order %s of courier %s has no assigned_at", o.ID, f.courier.ID)
			}
			want = append(want, delivery.ActiveOf(o, delivery.DefaultPrepMinutes))
		}
		f.set(t, f.createOrder(t, f.customer.ID, f.r).ID, st, ptr(f.courier2.ID))
		f.set(t, f.createOrder(t, f.customer.ID, f.r).ID, st, nil)
	}
	slices.Reverse(want)
	got, err := s.ActiveOrdersOfCourier(ctx, f.courier.ID)
	must(t, err)
	deepEqual(t, "active orders", got, want)
	if len(want) != 4 {
		t.Fatalf("fixture: %d active statuses, want 4", len(want))
	}
	none, err := s.ActiveOrdersOfCourier(ctx, f.customer.ID)
	must(t, err)
	if none == nil || len(none) != 0 {
		t.Fatalf("no active orders: %#v, want an empty non-nil slice", none)
	}
	// Bounded, newest first.
	for range delivery.MaxActiveOrders + 2 {
		f.set(t, f.createOrder(t, f.customer.ID, f.r).ID, delivery.StatusPickedUp, ptr(f.courier2.ID))
	}
	many, err := s.ActiveOrdersOfCourier(ctx, f.courier2.ID)
	must(t, err)
	if len(many) != delivery.MaxActiveOrders || !slices.IsSortedFunc(many, func(a, b delivery.ActiveOrder) int { return int(b.ID - a.ID) }) {
		t.Fatalf("%d active orders %v: want the newest %d, newest first", len(many), many, delivery.MaxActiveOrders)
	}
}

// testFinishedAt: the store records when an order became terminal, keeps
// it through later appends, and mutate cannot set it.
func testFinishedAt(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	forged := o.CreatedAt.Add(-48 * 3600e9)
	o, _, err := s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
		cur.Status, cur.FinishedAt = delivery.StatusAccepted, &forged
		return delivery.Change{Type: delivery.EventOrderStatus}, nil
	})
	must(t, err)
	if o.FinishedAt != nil {
		t.Fatalf("FinishedAt = %v on an accepted order", o.FinishedAt)
	}
	for _, terminal := range []delivery.Status{delivery.StatusDelivered, delivery.StatusRejected, delivery.StatusCancelled} {
		t.Run(string(terminal), func(t *testing.T) {
			o := f.createOrder(t, f.customer.ID, f.r)
			done := f.set(t, o.ID, terminal, nil)
			if done.FinishedAt == nil || !done.FinishedAt.Equal(done.UpdatedAt) {
				t.Fatalf("FinishedAt = %v, want the terminal change's time %v", done.FinishedAt, done.UpdatedAt)
			}
			wantUTCMicro(t, "FinishedAt", *done.FinishedAt)
			stored, err := s.OrderByID(ctx, o.ID)
			must(t, err)
			deepEqual(t, "stored", stored, done)
			f.post(t, o.ID, f.customer, fmt.Sprintf("late-%s", terminal))
			later, _, err := s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
				cur.FinishedAt = &forged
				return delivery.Change{Type: "note"}, nil
			})
			must(t, err)
			if later.FinishedAt == nil || !later.FinishedAt.Equal(*done.FinishedAt) {
				t.Fatalf("FinishedAt moved to %v, want %v", later.FinishedAt, done.FinishedAt)
			}
			list, err := s.ListOrders(ctx, delivery.OrderFilter{All: true, Status: terminal})
			must(t, err)
			if len(list) != 1 || list[0].FinishedAt == nil || !list[0].FinishedAt.Equal(*done.FinishedAt) {
				t.Fatalf("listed: %+v", list)
			}
		})
	}
}
