package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// The routing table of API.md ("Channels"), event by event and order state
// by order state. Customer 10, restaurant 20, courier 30 (when assigned),
// courier 31 removed by an unassign. Each row names where the event goes;
// "+offered" and "+claimed" are the dispatch channel's ephemeral events.
func TestRouteTable(t *testing.T) {
	const customer, restaurant, courier, removed = 10, 20, 30, 31
	all := "order:1 user:10 user:30 restaurant:20"
	noCourier := "order:1 user:10 restaurant:20"
	type row struct {
		event   string
		courier bool // the order has courier 30 after the event
		want    map[delivery.Status]string
	}
	every := func(s string) map[delivery.Status]string {
		m := map[delivery.Status]string{}
		for _, st := range delivery.Statuses {
			m[st] = s
		}
		return m
	}
	with := func(m map[delivery.Status]string, st delivery.Status, s string) map[delivery.Status]string {
		m[st] = s
		return m
	}
	rows := []row{
		{delivery.EventOrderCreated, false, every(noCourier)},
		// Accepted without a courier: offered to every courier.
		// Status changes also go to the track channel (as the tracking view).
		{delivery.EventOrderStatus, false, with(every(noCourier+" track:1"), delivery.StatusAccepted, noCourier+" track:1 dispatch+offered")},
		{delivery.EventOrderStatus, true, every(all + " track:1")},
		{delivery.EventOrderAssigned, true, every(all + " dispatch+claimed")},
		// The removed courier gets the unassign on its feed, and nothing
		// later; an order still claimable is offered again.
		{delivery.EventOrderUnassigned, false, func() map[delivery.Status]string {
			m := every(noCourier + " user:31")
			for _, st := range []delivery.Status{delivery.StatusAccepted, delivery.StatusPreparing, delivery.StatusReady} {
				m[st] = noCourier + " user:31 dispatch+offered"
			}
			return m
		}()},
		// Chat goes to the parties' feeds, not the restaurant's.
		{delivery.EventChatMessage, false, every("order:1 user:10")},
		{delivery.EventChatMessage, true, every("order:1 user:10 user:30")},
		// Arrivals go to every party's feed, the restaurant's too (its
		// board shows who is at the counter), and to the viewers.
		{delivery.EventCourierArrived, true, every(all + " track:1")},
		// The publish API's durable events: their order channel only.
		{"driver.note", false, every("order:1")},
		{"driver.note", true, every("order:1")},
	}
	for _, r := range rows {
		for _, st := range delivery.Statuses {
			name := fmt.Sprintf("%s/%s/courier=%v", r.event, st, r.courier)
			o := delivery.Order{ID: 1, Status: st, Seq: 7, CustomerID: customer, RestaurantID: restaurant, RestaurantName: "Luigi's",
				DeliveryAddress: "1 Main St", Notes: "door code 1234"}
			if st.Terminal() {
				finished := time.UnixMilli(1_700_000_000_000)
				o.FinishedAt = &finished
			}
			if r.courier {
				c := delivery.ID(courier)
				o.CourierID = &c
			}
			ev := delivery.Event{OrderID: 1, Seq: 7, Type: r.event, Data: json.RawMessage(`{"x":1}`), CreatedAt: time.UnixMilli(1_700_000_000_000)}
			if r.event == delivery.EventOrderUnassigned {
				ev.Data = mustJSON(t, delivery.Unassigned{Order: o, UnassignedCourierID: removed, Reason: "swap"})
			}
			pubs, err := Route(o, ev)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got, want := sorted(describe(pubs)), sorted(r.want[st]); got != want {
				t.Errorf("%s: routed to %q, want %q", name, got, want)
			}
			for _, p := range pubs {
				checkPublication(t, name, o, ev, p, removed)
			}
		}
	}
}

// sorted sorts a list of channels: the order of publications to different
// channels does not matter.
func sorted(list string) string {
	f := strings.Fields(list)
	slices.Sort(f)
	return strings.Join(f, " ")
}

// describe lists the channels of pubs, dispatch with its event.
func describe(pubs []delivery.Publication) string {
	var out []string
	for _, p := range pubs {
		if p.Channel == wire.DispatchChannel {
			out = append(out, "dispatch+"+strings.TrimPrefix(p.Event, "order."))
		} else {
			out = append(out, p.Channel)
		}
	}
	return strings.Join(out, " ")
}

// checkPublication: the event's own publications carry it whole with its
// seq, a feed's naming the order; the dispatch ones are ephemeral and show no customer, address or
// notes; only the order channel revokes the removed courier.
func checkPublication(t *testing.T, name string, o delivery.Order, ev delivery.Event, p delivery.Publication, removed delivery.ID) {
	t.Helper()
	if p.Ts != ev.CreatedAt.UnixMilli() {
		t.Errorf("%s: %s at ts %d, want the event's", name, p.Channel, p.Ts)
	}
	if p.Channel == wire.DispatchChannel {
		if p.Seq != 0 || p.Revoke != 0 {
			t.Errorf("%s: dispatch publication %+v is not plain ephemeral", name, p)
		}
		for _, secret := range []string{"customer_id", "delivery_address", "notes", "door code"} {
			if strings.Contains(string(p.Data), secret) {
				t.Errorf("%s: dispatch %s shows %s: %s", name, p.Event, secret, p.Data)
			}
		}
		return
	}
	if p.Channel == wire.TrackChannel(o.ID) {
		checkTrackPublication(t, name, o, ev, p)
		return
	}
	if p.Event != ev.Type || p.Seq != ev.Seq || string(p.Data) != string(ev.Data) {
		t.Errorf("%s: %s got %s/%d %s, want the event", name, p.Channel, p.Event, p.Seq, p.Data)
	}
	wantRevoke, wantOrder := delivery.ID(0), o.ID // a feed names the order
	if p.Channel == wire.OrderChannel(o.ID) {
		wantOrder = 0
		if ev.Type == delivery.EventOrderUnassigned {
			wantRevoke = removed
		}
	}
	if p.Order != wantOrder {
		t.Errorf("%s: %s names order %s, want %s", name, p.Channel, p.Order, wantOrder)
	}
	if p.Revoke != wantRevoke || p.AsOf != 0 || p.Except != 0 || p.Courier != 0 || p.Latest {
		t.Errorf("%s: %s conditions %+v, want revoke %s only", name, p.Channel, p, wantRevoke)
	}
}

// checkTrackPublication: on the track channel a status change is the
// tracking view (no person, address or notes), an arrival the event; both
// name the order with its seq, as of that seq; the end of the order says
// when the links expire.
func checkTrackPublication(t *testing.T, name string, o delivery.Order, ev delivery.Event, p delivery.Publication) {
	t.Helper()
	want := string(ev.Data)
	var wantExpires int64
	if ev.Type == delivery.EventOrderStatus {
		want = string(mustJSON(t, delivery.Track(o)))
		if exp := delivery.TrackExpiry(o); !exp.IsZero() {
			wantExpires = exp.UnixMilli()
		}
	}
	if p.Event != ev.Type || p.Seq != ev.Seq || p.Order != o.ID || string(p.Data) != want {
		t.Errorf("%s: track got %s/%d order %s %s, want %s", name, p.Event, p.Seq, p.Order, p.Data, want)
	}
	if p.AsOf != ev.Seq || p.Expires != wantExpires || p.Revoke != 0 || p.Except != 0 || p.Courier != 0 || p.Latest {
		t.Errorf("%s: track conditions %+v, want as of %d, expires %d", name, p, ev.Seq, wantExpires)
	}
	for _, secret := range []string{"customer_id", "courier_id", "delivery_address", "notes", "door code", "1 Main St"} {
		if ev.Type == delivery.EventOrderStatus && strings.Contains(string(p.Data), secret) {
			t.Errorf("%s: track %s shows %s: %s", name, p.Event, secret, p.Data)
		}
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Read marks go to the order channel and the feeds of its customer and
// courier; positions to the order channels of active orders that may show
// them, with the seq each was read at.
func TestRouteEphemeral(t *testing.T) {
	c := delivery.ID(30)
	o := delivery.Order{ID: 1, Status: delivery.StatusReady, CustomerID: 10, RestaurantID: 20, CourierID: &c}
	reads, err := routeRead(o, delivery.ReadMark{OrderID: 1, UserID: 10, Role: delivery.RoleCustomer, Seq: 4}, 99)
	if err != nil {
		t.Fatal(err)
	}
	if got := sorted(describe(reads)); got != "order:1 user:10 user:30" {
		t.Errorf("read mark routed to %q", got)
	}
	now := time.UnixMilli(1_700_000_100_000)
	assigned := now.Add(-time.Minute)
	active := []delivery.ActiveOrder{{ID: 5, Seq: 9, AssignedAt: assigned}, {ID: 4, Seq: 6, AssignedAt: now}}
	loc := delivery.Location{CourierID: 30, Lat: 1, Lng: 2, Ts: now.Add(-time.Second).UnixMilli()}
	pubs, err := routeLocation(loc, active, now)
	if err != nil {
		t.Fatal(err)
	}
	// Order 4 was assigned after the position was taken: not shown there,
	// nor to its viewers.
	if got := describe(pubs); got != "order:5 track:5" {
		t.Fatalf("position routed to %q, want order:5 and track:5 only", got)
	}
	for _, p := range pubs {
		if p.AsOf != 9 || p.Courier != 30 || !p.Latest || p.Seq != 0 || p.Event != delivery.EventCourierLocation {
			t.Errorf("position publication %+v", p)
		}
	}
	stale := loc
	stale.Ts = now.Add(-delivery.MaxLocationAge - time.Second).UnixMilli()
	if pubs, _ := routeLocation(stale, []delivery.ActiveOrder{{ID: 5, Seq: 9}}, now); len(pubs) != 0 {
		t.Errorf("a position older than %v routed to %q", delivery.MaxLocationAge, describe(pubs))
	}
}

// An estimate goes to the order's and track channels as of the seq it was made at,
// and, plain, to the feeds of the customer, the courier (once there is
// one) and the restaurant.
func TestRouteETA(t *testing.T) {
	now := time.UnixMilli(1_700_000_100_000)
	pickup := now.Add(5 * time.Minute).UnixMilli()
	eta := delivery.ETA{OrderID: 1, PickupAt: &pickup, DeliverAt: now.Add(15 * time.Minute).UnixMilli(), Basis: delivery.BasisToPickup, At: now.UnixMilli()}
	data := string(mustJSON(t, eta))
	for _, tc := range []struct {
		courier delivery.ID
		want    string
	}{{30, "order:1 restaurant:20 track:1 user:10 user:30"}, {0, "order:1 restaurant:20 track:1 user:10"}} {
		pubs, err := routeETA(delivery.ActiveOrder{ID: 1, Seq: 7, CustomerID: 10, RestaurantID: 20, CourierID: tc.courier}, eta, now)
		if err != nil {
			t.Fatal(err)
		}
		if got := sorted(describe(pubs)); got != tc.want {
			t.Errorf("courier %s: ETA routed to %q, want %q", tc.courier, got, tc.want)
		}
		for _, p := range pubs {
			wantAsOf := int64(0)
			if p.Channel == "order:1" || p.Channel == "track:1" {
				wantAsOf = 7
			}
			if p.Event != delivery.EventOrderETA || string(p.Data) != data || p.Seq != 0 || p.Order != 0 || p.Ts != now.UnixMilli() ||
				p.AsOf != wantAsOf || p.Latest || p.Courier != 0 || p.Except != 0 || p.Revoke != 0 {
				t.Errorf("ETA publication %+v (%s), want %s as of %d on %s", p, p.Data, data, wantAsOf, p.Channel)
			}
		}
	}
}

// orderLog is an OrderReader holding one order as it is now.
type orderLog struct{ now delivery.Order }

func (l orderLog) OrderByID(_ context.Context, id delivery.ID) (delivery.Order, error) {
	if id != l.now.ID {
		return delivery.Order{}, delivery.Errorf(delivery.ENOTFOUND, "order %s not found", id)
	}
	return l.now, nil
}

// A relayed accept is routed by its snapshot while the order is still
// offered, and by the order as it is once claimed: couriers are not
// offered an order that is already taken. A chat message, whose payload
// holds no order, is routed by the order as it is now.
func TestRouteStored(t *testing.T) {
	ctx := context.Background()
	accepted := delivery.Order{ID: 1, Status: delivery.StatusAccepted, Seq: 2, CustomerID: 10, RestaurantID: 20}
	accept := delivery.Event{OrderID: 1, Seq: 2, Type: delivery.EventOrderStatus, Data: mustJSON(t, accepted)}
	c := delivery.ID(30)
	claimed := accepted
	claimed.CourierID, claimed.Seq = &c, 3

	// The place is the restaurant's as it is: the payload does not carry it.
	placed := accepted
	placed.RestaurantPlace = &delivery.Place{Lat: 52.5, Lng: 13.4}
	standing, err := RouteStored(ctx, orderLog{placed}, accept)
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(standing); !strings.HasSuffix(got, "dispatch+offered") {
		t.Errorf("a standing offer relayed to %q, want it offered", got)
	}
	if offer := standing[len(standing)-1]; !strings.Contains(string(offer.Data), `"lat":52.5,"lng":13.4`) {
		t.Errorf("relayed offer %s: want the restaurant's place", offer.Data)
	}
	taken, err := RouteStored(ctx, orderLog{claimed}, accept)
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(taken); strings.Contains(got, "dispatch") || !slices.Contains(strings.Fields(got), "user:30") {
		t.Errorf("an accept relayed after the claim went to %q: no offer, and the courier's feed", got)
	}
	msg := delivery.Event{OrderID: 1, Seq: 4, Type: delivery.EventChatMessage, Data: json.RawMessage(`{"text":"hi"}`)}
	chat, err := RouteStored(ctx, orderLog{claimed}, msg)
	if err != nil {
		t.Fatal(err)
	}
	if got := sorted(describe(chat)); got != "order:1 user:10 user:30" {
		t.Errorf("a relayed chat message went to %q", got)
	}
	// An unassign relayed after another courier claimed the order: not to
	// that courier, and no new offer.
	unassign := delivery.Event{OrderID: 1, Seq: 5, Type: delivery.EventOrderUnassigned,
		Data: mustJSON(t, delivery.Unassigned{Order: accepted, UnassignedCourierID: 31, Reason: "swap"})}
	reclaimed, err := RouteStored(ctx, orderLog{claimed}, unassign)
	if err != nil {
		t.Fatal(err)
	}
	if got := sorted(describe(reclaimed)); got != "order:1 restaurant:20 user:10 user:31" {
		t.Errorf("an unassign relayed after a new claim went to %q", got)
	}
	if _, err := RouteStored(ctx, orderLog{claimed}, delivery.Event{OrderID: 2, Seq: 1, Type: delivery.EventChatMessage}); delivery.ErrorCode(err) != delivery.ENOTFOUND {
		t.Errorf("relaying an event of a missing order: %v", err)
	}
}
