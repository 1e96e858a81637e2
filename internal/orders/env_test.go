package orders_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/delivery"
	locmemory "github.com/ordercast/ordercast/internal/location/memory"
	"github.com/ordercast/ordercast/internal/orders"
	"github.com/ordercast/ordercast/internal/store/sqlite"
)

// maxActive is the MaxActivePerCourier of every env: small, so that
// too_many_active takes few orders.
const maxActive = 2

// env is the order service on a real SQLite store, with what it hands
// on recorded and a clock the test moves. The store stamps orders with
// the real time, so tests set the clock from those stamps (AssignedAt,
// FinishedAt) rather than from a fixed epoch.
type env struct {
	t      testing.TB
	store  *sqlite.Store
	svc    *orders.Service
	outbox *outboxRecorder
	pub    *pubRecorder
	clock  *clock
	w      world
	seq    atomic.Int64
}

// world is one account of every role and a second of each that is no
// party of the orders the tests place (customer's at staff's restaurant),
// and that restaurant's menu.
type world struct {
	customer, customer2 delivery.Actor
	staff, staff2       delivery.Actor // of restaurants r and r2
	courier, courier2   delivery.Actor
	admin               delivery.Actor
	r, r2               delivery.ID
	pizza, pasta        delivery.MenuItem // available, at r
	soldOut             delivery.MenuItem // unavailable, at r
	sushi               delivery.MenuItem // at r2
}

// newEnv is newEnvWith without limits.
func newEnv(t testing.TB) *env { return newEnvWith(t, nil) }

// newEnvWith builds an env; edit may change the service's Config.
func newEnvWith(t testing.TB, edit func(*orders.Config, *clock)) *env {
	t.Helper()
	e := &env{t: t, store: sqlite.OpenTest(t), outbox: &outboxRecorder{}, pub: &pubRecorder{}, clock: newClock(time.Now())}
	cfg := orders.Config{
		Store:               e.store,
		Outbox:              e.outbox,
		Publisher:           e.pub,
		Locations:           locmemory.NewWithClock(e.clock.Now),
		MaxActivePerCourier: maxActive,
		Now:                 e.clock.Now,
		Log:                 zerolog.Nop(),
	}
	if edit != nil {
		edit(&cfg, e.clock)
	}
	e.svc = orders.New(cfg)
	e.w = e.newWorld()
	return e
}

func (e *env) newWorld() world {
	e.t.Helper()
	var w world
	w.customer = e.user(delivery.RoleCustomer)
	w.customer2 = e.user(delivery.RoleCustomer)
	w.staff = e.user(delivery.RoleRestaurant)
	w.staff2 = e.user(delivery.RoleRestaurant)
	w.courier = e.user(delivery.RoleCourier)
	w.courier2 = e.user(delivery.RoleCourier)
	w.admin = e.user(delivery.RoleAdmin)
	w.r, w.r2 = w.staff.RestaurantID, w.staff2.RestaurantID
	w.pizza = e.menuItem(w.staff, "Margherita", 850, true)
	w.pasta = e.menuItem(w.staff, "Carbonara", 1200, true)
	w.soldOut = e.menuItem(w.staff, "Calzone", 990, false)
	w.sushi = e.menuItem(w.staff2, "Nigiri", 600, true)
	return w
}

// user creates an account of role (with a restaurant for staff).
func (e *env) user(role delivery.Role) delivery.Actor {
	e.t.Helper()
	n := e.seq.Add(1)
	restaurant := ""
	if role == delivery.RoleRestaurant {
		restaurant = fmt.Sprintf("Kitchen %d", n)
	}
	u, err := e.store.CreateUser(e.t.Context(), delivery.User{
		Email: fmt.Sprintf("%s%d@example.com", role, n), Name: fmt.Sprintf("%s %d", role, n), Role: role, PasswordHash: "hash",
	}, delivery.Restaurant{Name: restaurant})
	if err != nil {
		e.t.Fatalf("create %s: %v", role, err)
	}
	return u.Actor()
}

func (e *env) menuItem(staff delivery.Actor, name string, cents int64, available bool) delivery.MenuItem {
	e.t.Helper()
	item, err := e.svc.AddMenuItem(e.t.Context(), staff, staff.RestaurantID, orders.MenuItemInput{Name: name, PriceCents: cents, Available: &available})
	if err != nil {
		e.t.Fatalf("add %s: %v", name, err)
	}
	return item
}

// place places an order of w.customer at w.r: one pizza.
func (e *env) place() delivery.Order {
	e.t.Helper()
	return e.placeAs(e.w.customer)
}

func (e *env) placeAs(customer delivery.Actor) delivery.Order {
	e.t.Helper()
	req := orders.PlaceRequest{RestaurantID: e.w.r, Items: []orders.ItemInput{{MenuItemID: e.w.pizza.ID, Quantity: 1}}, DeliveryAddress: "Main Street 1"}
	o, created, err := e.svc.Place(e.t.Context(), customer, req, fmt.Sprintf("key-%d", e.seq.Add(1)))
	if err != nil || !created {
		e.t.Fatalf("place: created=%v, err=%v", created, err)
	}
	return o
}

// setStatus moves the order as a, failing the test if it may not.
func (e *env) setStatus(a delivery.Actor, id delivery.ID, to delivery.Status) delivery.Order {
	e.t.Helper()
	o, err := e.svc.SetStatus(e.t.Context(), a, id, to, "", nil)
	if err != nil {
		e.t.Fatalf("set %s → %s as %s: %v", id, to, a.Role, err)
	}
	return o
}

func (e *env) claim(courier delivery.Actor, id delivery.ID) delivery.Order {
	e.t.Helper()
	o, err := e.svc.Claim(e.t.Context(), courier, id)
	if err != nil {
		e.t.Fatalf("claim %s: %v", id, err)
	}
	return o
}

// accepted places an order and has the restaurant accept it: offered.
func (e *env) accepted() delivery.Order {
	e.t.Helper()
	return e.setStatus(e.w.staff, e.place().ID, delivery.StatusAccepted)
}

// assigned is an accepted order claimed by w.courier: an active delivery.
func (e *env) assigned() delivery.Order {
	e.t.Helper()
	return e.claim(e.w.courier, e.accepted().ID)
}

// deliver moves an assigned order of w.courier on to delivered.
func (e *env) deliver(id delivery.ID) delivery.Order {
	e.t.Helper()
	o, err := e.store.OrderByID(e.t.Context(), id)
	must(e.t, err)
	steps := []struct {
		from delivery.Status
		by   delivery.Actor
		to   delivery.Status
	}{
		{delivery.StatusAccepted, e.w.staff, delivery.StatusPreparing},
		{delivery.StatusPreparing, e.w.staff, delivery.StatusReady},
		{delivery.StatusReady, e.w.courier, delivery.StatusPickedUp},
		{delivery.StatusPickedUp, e.w.courier, delivery.StatusDelivered},
	}
	for _, s := range steps {
		if o.Status == s.from {
			o = e.setStatus(s.by, id, s.to)
		}
	}
	return o
}

// wantCode fails the test unless err carries code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := delivery.ErrorCode(err); err == nil || got != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

// wantField fails the test unless err carries code and is about field: the
// message starts with the field's name, as API.md's errors do.
func wantField(t testing.TB, err error, code, field string) {
	t.Helper()
	wantCode(t, err, code)
	if msg := delivery.ErrorMessage(err); !strings.HasPrefix(msg, field+":") {
		t.Fatalf("message %q: want it to name %s", msg, field)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// committed is one call of Outbox.Committed.
type committed struct {
	ev   delivery.Event
	pubs []delivery.Publication
}

// outboxRecorder is the Outbox, recording what the service committed.
type outboxRecorder struct {
	mu    sync.Mutex
	calls []committed
}

func (r *outboxRecorder) Committed(_ context.Context, ev delivery.Event, pubs []delivery.Publication) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, committed{ev, slices.Clone(pubs)})
}

// take returns the calls since the last take.
func (r *outboxRecorder) take() []committed {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// takeOne returns the one call since the last take, failing the test
// if there was another number.
func (r *outboxRecorder) takeOne(t testing.TB) committed {
	t.Helper()
	c := r.take()
	if len(c) != 1 {
		t.Fatalf("outbox got %d events, want 1: %+v", len(c), c)
	}
	return c[0]
}

// wantNone fails the test if the service committed anything since the
// last take.
func (r *outboxRecorder) wantNone(t testing.TB) {
	t.Helper()
	if c := r.take(); len(c) != 0 {
		t.Fatalf("outbox got %+v, want nothing", c)
	}
}

// pubRecorder is the Publisher of ephemeral events, recording them.
type pubRecorder struct {
	mu   sync.Mutex
	pubs []delivery.Publication
}

func (r *pubRecorder) Publish(_ context.Context, pubs ...delivery.Publication) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pubs = append(r.pubs, pubs...)
	return nil
}

// take returns the publications since the last take.
func (r *pubRecorder) take() []delivery.Publication {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pubs
	r.pubs = nil
	return p
}

func (r *pubRecorder) wantNone(t testing.TB) {
	t.Helper()
	if p := r.take(); len(p) != 0 {
		t.Fatalf("published %+v, want nothing", p)
	}
}

// channels returns the channel of each publication, in order.
func channels(pubs []delivery.Publication) []string {
	out := make([]string, len(pubs))
	for i, p := range pubs {
		out[i] = p.Channel
	}
	return out
}

// clock is the service's settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }
