package delivery_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

func TestCheckPlace(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		lat, lng *float64
		want     *delivery.Place
		field    string // of the error; "" for none
	}{
		{nil, nil, nil, ""},
		{f(52.52), f(13.4), &delivery.Place{Lat: 52.52, Lng: 13.4}, ""},
		{f(-90), f(180), &delivery.Place{Lat: -90, Lng: 180}, ""},
		{f(90), f(-180), &delivery.Place{Lat: 90, Lng: -180}, ""},
		{f(0), f(0), &delivery.Place{}, ""},
		{f(52.52), nil, nil, "the_lng"},
		{nil, f(13.4), nil, "the_lat"},
		{f(90.001), f(0), nil, "the_lat"},
		{f(math.NaN()), f(0), nil, "the_lat"},
		{f(0), f(-180.5), nil, "the_lng"},
		{f(0), f(math.Inf(1)), nil, "the_lng"},
	} {
		got, err := delivery.CheckPlace("the_lat", "the_lng", tc.lat, tc.lng)
		if tc.field == "" {
			if err != nil || (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Errorf("CheckPlace(%v, %v) = %+v, %v; want %+v", tc.lat, tc.lng, got, err, tc.want)
			}
			continue
		}
		if delivery.ErrorCode(err) != delivery.EINVALID || !strings.HasPrefix(delivery.ErrorMessage(err), tc.field+":") || got != nil {
			t.Errorf("CheckPlace(%v, %v) = %+v, %v; want invalid naming %s", tc.lat, tc.lng, got, err, tc.field)
		}
	}
}

func TestCheckPrepMinutes(t *testing.T) {
	for m, ok := range map[int]bool{-1: false, 0: false, 1: true, 15: true, 240: true, 241: false} {
		err := delivery.CheckPrepMinutes("prep_minutes", m)
		if (err == nil) != ok || err != nil && !strings.HasPrefix(delivery.ErrorMessage(err), "prep_minutes:") {
			t.Errorf("CheckPrepMinutes(%d) = %v, want ok=%v", m, err, ok)
		}
	}
}

// Which place a courier heads for, by status: the restaurant until the
// pickup, then the drop-off; none before the accept or after the end.
func TestArrivalOf(t *testing.T) {
	want := map[delivery.Status]delivery.Arrival{
		delivery.StatusAccepted: delivery.AtPickup, delivery.StatusPreparing: delivery.AtPickup,
		delivery.StatusReady: delivery.AtPickup, delivery.StatusPickedUp: delivery.AtDropoff,
	}
	for _, s := range delivery.Statuses {
		at, ok := delivery.ArrivalOf(s)
		if w, has := want[s]; at != w || ok != has {
			t.Errorf("ArrivalOf(%s) = %q, %v; want %q, %v", s, at, ok, w, has)
		}
	}
}

// The wire shapes: a restaurant's place flat beside its name (absent
// when unset), the ETA without the store's At, and the offer view with
// the restaurant's place.
func TestPlaceJSON(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{delivery.Restaurant{ID: 3, Name: "Pizza", PrepMinutes: 15}, `{"id":"3","name":"Pizza","prep_minutes":15,"created_at":"0001-01-01T00:00:00Z"}`},
		{delivery.Restaurant{ID: 3, Name: "Pizza", Place: &delivery.Place{Lat: 52.5, Lng: 13.4}, PrepMinutes: 20},
			`{"id":"3","name":"Pizza","lat":52.5,"lng":13.4,"prep_minutes":20,"created_at":"0001-01-01T00:00:00Z"}`},
		{delivery.ETA{OrderID: 42, DeliverAt: 1732406400000, Basis: delivery.BasisToDropoff, At: 99},
			`{"order_id":"42","deliver_at":1732406400000,"basis":"to_dropoff"}`},
		{delivery.Arrived{OrderID: 42, CourierID: 7, At: delivery.AtPickup, Ts: 1732406400000},
			`{"order_id":"42","courier_id":"7","at":"pickup","ts":1732406400000}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("%T: %s, %v; want %s", tc.v, b, err, tc.want)
		}
	}
	o := delivery.Order{ID: 42, RestaurantID: 3, RestaurantPlace: &delivery.Place{Lat: 1.5, Lng: 2.5}}
	var offer map[string]any
	b, _ := json.Marshal(delivery.Offer(o))
	if err := json.Unmarshal(b, &offer); err != nil || offer["lat"] != 1.5 || offer["lng"] != 2.5 {
		t.Errorf("offer view %s: want the restaurant's lat and lng", b)
	}
	b, _ = json.Marshal(o)
	if strings.Contains(string(b), `"lat"`) {
		t.Errorf("order %s: the restaurant's place is the offer view's, not the order's", b)
	}
}
