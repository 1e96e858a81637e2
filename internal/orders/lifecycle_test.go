package orders_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/orders"
	"github.com/ordercast/ordercast/internal/wire"
)

// The whole happy path, each step by the party whose move it is; every
// change is one order.status (or order.assigned) event with the order's
// new seq.
func TestSetStatusLifecycle(t *testing.T) {
	e := newEnv(t)
	o := e.place()
	e.outbox.take()
	steps := []struct {
		by   delivery.Actor
		to   delivery.Status // "" claims
		want string          // event type
	}{
		{e.w.staff, delivery.StatusAccepted, delivery.EventOrderStatus},
		{e.w.courier, "", delivery.EventOrderAssigned},
		{e.w.staff, delivery.StatusPreparing, delivery.EventOrderStatus},
		{e.w.staff, delivery.StatusReady, delivery.EventOrderStatus},
		{e.w.courier, delivery.StatusPickedUp, delivery.EventOrderStatus},
		{e.w.courier, delivery.StatusDelivered, delivery.EventOrderStatus},
	}
	for i, s := range steps {
		prev := o
		if s.to == "" {
			o = e.claim(s.by, o.ID)
		} else {
			o = e.setStatus(s.by, o.ID, s.to)
		}
		if o.Seq != prev.Seq+1 || (s.to != "" && o.Status != s.to) {
			t.Fatalf("step %d: order %+v, want status %s at seq %d", i, o, s.to, prev.Seq+1)
		}
		if c := e.outbox.takeOne(t); c.ev.Type != s.want || c.ev.Seq != o.Seq || c.pubs[0].Seq != o.Seq {
			t.Fatalf("step %d: event %+v, want %s at seq %d", i, c.ev, s.want, o.Seq)
		}
	}
	if o.FinishedAt == nil || o.CourierID == nil || *o.CourierID != e.w.courier.UserID {
		t.Fatalf("delivered order %+v: want the courier kept and FinishedAt set", o)
	}
}

// Who may move an order: the service answers a non-party forbidden and
// otherwise applies delivery.CheckTransition; nothing refused is stored
// or published.
func TestSetStatusWhoMay(t *testing.T) {
	e := newEnv(t)
	placed := e.place()
	assigned := e.assigned()
	e.outbox.take()
	tests := []struct {
		name  string
		by    delivery.Actor
		order delivery.Order
		to    delivery.Status
		code  string
	}{
		{"other customer", e.w.customer2, placed, delivery.StatusCancelled, delivery.EFORBIDDEN},
		{"other restaurant", e.w.staff2, placed, delivery.StatusAccepted, delivery.EFORBIDDEN},
		{"courier of no order", e.w.courier, placed, delivery.StatusAccepted, delivery.EFORBIDDEN},
		{"other courier", e.w.courier2, assigned, delivery.StatusPickedUp, delivery.EFORBIDDEN},
		{"admin moves nothing", e.w.admin, placed, delivery.StatusAccepted, delivery.EFORBIDDEN},
		{"customer accepts", e.w.customer, placed, delivery.StatusAccepted, delivery.EFORBIDDEN},
		{"restaurant skips", e.w.staff, placed, delivery.StatusReady, delivery.EINVALIDTRANSITION},
		{"courier early", e.w.courier, assigned, delivery.StatusPickedUp, delivery.EINVALIDTRANSITION},
		{"customer cancels late", e.w.customer, assigned, delivery.StatusCancelled, delivery.EINVALIDTRANSITION},
		{"unknown status", e.w.staff, placed, "eaten", delivery.EINVALID},
		{"restaurant cancels without reason", e.w.staff, assigned, delivery.StatusCancelled, delivery.EINVALID},
		{"admin cancels without reason", e.w.admin, assigned, delivery.StatusCancelled, delivery.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.SetStatus(t.Context(), tt.by, tt.order.ID, tt.to, "", nil)
			wantCode(t, err, tt.code)
			now, err := e.store.OrderByID(t.Context(), tt.order.ID)
			must(t, err)
			if now.Seq != tt.order.Seq || now.Status != tt.order.Status {
				t.Fatalf("refused change stored: %+v", now)
			}
			e.outbox.wantNone(t)
		})
	}

	_, err := e.svc.SetStatus(t.Context(), e.w.staff, 1<<40, delivery.StatusAccepted, "", nil)
	wantCode(t, err, delivery.ENOTFOUND)
	_, err = e.svc.SetStatus(t.Context(), e.w.customer, placed.ID, delivery.StatusCancelled, strings.Repeat("r", orders.MaxReasonLen+1), nil)
	wantField(t, err, delivery.EINVALID, "reason")
}

func TestSetStatusReason(t *testing.T) {
	e := newEnv(t)
	o := e.assigned()
	got, err := e.svc.SetStatus(t.Context(), e.w.staff, o.ID, delivery.StatusCancelled, "  out of flour ", nil)
	must(t, err)
	if got.Status != delivery.StatusCancelled || got.Reason != "out of flour" {
		t.Fatalf("cancel = %+v, want cancelled with the trimmed reason", got)
	}
}

// An admin cancels with a reason of 1 to MaxAdminReasonLen characters.
func TestSetStatusAdminCancel(t *testing.T) {
	e := newEnv(t)
	o := e.assigned()
	e.outbox.take()
	_, err := e.svc.SetStatus(t.Context(), e.w.admin, o.ID, delivery.StatusCancelled, strings.Repeat("r", orders.MaxAdminReasonLen+1), nil)
	wantField(t, err, delivery.EINVALID, "reason")
	e.outbox.wantNone(t)
	got, err := e.svc.SetStatus(t.Context(), e.w.admin, o.ID, delivery.StatusCancelled, strings.Repeat("r", orders.MaxAdminReasonLen), nil)
	must(t, err)
	if got.Status != delivery.StatusCancelled || got.Reason != strings.Repeat("r", orders.MaxAdminReasonLen) {
		t.Fatalf("admin cancel = %+v, want cancelled with the reason", got)
	}
}

func TestSetStatusIfMatch(t *testing.T) {
	e := newEnv(t)
	o := e.place()
	stale := o.Seq - 1
	_, err := e.svc.SetStatus(t.Context(), e.w.staff, o.ID, delivery.StatusAccepted, "", &stale)
	wantCode(t, err, delivery.EPRECONDITION)
	// A non-party learns nothing of the order's seq.
	_, err = e.svc.SetStatus(t.Context(), e.w.staff2, o.ID, delivery.StatusAccepted, "", &stale)
	wantCode(t, err, delivery.EFORBIDDEN)
	e.outbox.take()

	cur := o.Seq
	got, err := e.svc.SetStatus(t.Context(), e.w.staff, o.ID, delivery.StatusAccepted, "", &cur)
	must(t, err)
	if got.Status != delivery.StatusAccepted || got.Seq != cur+1 {
		t.Fatalf("If-Match %d: %+v", cur, got)
	}
	e.outbox.takeOne(t)
}

func TestClaim(t *testing.T) {
	e := newEnv(t)
	placed := e.place()
	o := e.accepted()
	e.outbox.take()

	_, err := e.svc.Claim(t.Context(), e.w.staff, o.ID)
	wantCode(t, err, delivery.EFORBIDDEN)
	_, err = e.svc.Claim(t.Context(), e.w.courier, placed.ID)
	wantCode(t, err, delivery.EINVALIDTRANSITION)
	_, err = e.svc.Claim(t.Context(), e.w.courier, 1<<40)
	wantCode(t, err, delivery.ENOTFOUND)
	e.outbox.wantNone(t)

	got := e.claim(e.w.courier, o.ID)
	if got.CourierID == nil || *got.CourierID != e.w.courier.UserID || got.AssignedAt == nil || got.Status != delivery.StatusAccepted {
		t.Fatalf("claim = %+v", got)
	}
	c := e.outbox.takeOne(t)
	if !slices.Contains(channels(c.pubs), wire.UserChannel(e.w.courier.UserID)) {
		t.Fatalf("order.assigned went to %q: want the courier's feed among them", channels(c.pubs))
	}

	for _, by := range []delivery.Actor{e.w.courier2, e.w.courier} {
		_, err = e.svc.Claim(t.Context(), by, o.ID)
		wantCode(t, err, delivery.EALREADYASSIGNED)
	}
	e.outbox.wantNone(t)
}

func TestClaimTooManyActive(t *testing.T) {
	e := newEnv(t)
	for range maxActive {
		e.assigned()
	}
	o := e.accepted()
	e.outbox.take()
	_, err := e.svc.Claim(t.Context(), e.w.courier, o.ID)
	wantCode(t, err, delivery.ETOOMANYACTIVE)
	e.outbox.wantNone(t)
	// The cap is per courier.
	e.claim(e.w.courier2, o.ID)
}

// A delivered order no longer counts against the cap.
func TestClaimAfterDelivery(t *testing.T) {
	e := newEnv(t)
	first := e.assigned()
	e.assigned()
	e.deliver(first.ID)
	e.claim(e.w.courier, e.accepted().ID)
}

func TestUnassign(t *testing.T) {
	e := newEnv(t)
	placed := e.place()
	o := e.assigned()
	e.outbox.take()

	for _, reason := range []string{"", "   ", strings.Repeat("r", orders.MaxUnassignReasonLen+1)} {
		_, err := e.svc.Unassign(t.Context(), e.w.staff, o.ID, reason)
		wantField(t, err, delivery.EINVALID, "reason")
	}
	for _, by := range []delivery.Actor{e.w.customer, e.w.courier, e.w.staff2, e.w.courier2} {
		_, err := e.svc.Unassign(t.Context(), by, o.ID, "late")
		wantCode(t, err, delivery.EFORBIDDEN)
	}
	_, err := e.svc.Unassign(t.Context(), e.w.staff, placed.ID, "late")
	wantCode(t, err, delivery.EINVALIDTRANSITION)
	e.outbox.wantNone(t)

	got, err := e.svc.Unassign(t.Context(), e.w.staff, o.ID, "courier is late")
	must(t, err)
	if got.CourierID != nil || got.AssignedAt != nil || got.Seq != o.Seq+1 || !delivery.IsOffered(got) {
		t.Fatalf("unassign = %+v: want no courier, offered again", got)
	}
	c := e.outbox.takeOne(t)
	removed, err := delivery.UnassignedCourier(c.ev)
	must(t, err)
	if c.ev.Type != delivery.EventOrderUnassigned || removed != e.w.courier.UserID || !strings.Contains(string(c.ev.Data), `"reason":"courier is late"`) {
		t.Fatalf("event %+v: want order.unassigned of courier %s with the reason", c.ev, e.w.courier.UserID)
	}
	if p := c.pubs[0]; p.Channel != wire.OrderChannel(o.ID) || p.Revoke != e.w.courier.UserID {
		t.Fatalf("first publication %+v: want the order channel revoking courier %s", p, e.w.courier.UserID)
	}
	if !slices.Contains(channels(c.pubs), wire.UserChannel(e.w.courier.UserID)) {
		t.Fatalf("order.unassigned went to %q: want the removed courier's feed too", channels(c.pubs))
	}

	// Admins may unassign too; once the courier has the food nobody may.
	again := e.claim(e.w.courier2, o.ID)
	if _, err := e.svc.Unassign(t.Context(), e.w.admin, again.ID, "reshuffle"); err != nil {
		t.Fatalf("admin unassign: %v", err)
	}
	e.claim(e.w.courier, o.ID)
	e.setStatus(e.w.staff, o.ID, delivery.StatusPreparing)
	e.setStatus(e.w.staff, o.ID, delivery.StatusReady)
	e.setStatus(e.w.courier, o.ID, delivery.StatusPickedUp)
	_, err = e.svc.Unassign(t.Context(), e.w.staff, o.ID, "late")
	wantCode(t, err, delivery.EINVALIDTRANSITION)
}
