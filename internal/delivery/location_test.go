package delivery_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

func TestCheckLocation(t *testing.T) {
	now := time.UnixMilli(1_732_406_400_000)
	f := func(v float64) *float64 { return &v }
	ok := func() delivery.LocationUpdate {
		return delivery.LocationUpdate{Lat: f(52.52), Lng: f(13.4), Heading: f(90), Speed: f(8.5), Ts: now.UnixMilli()}
	}
	loc, err := delivery.CheckLocation(7, ok(), now)
	if err != nil || loc.CourierID != 7 || loc.Lat != 52.52 || loc.Lng != 13.4 || *loc.Heading != 90 || loc.Ts != now.UnixMilli() {
		t.Fatalf("valid: %+v, %v", loc, err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*delivery.LocationUpdate)
	}{
		{"lat", func(u *delivery.LocationUpdate) { u.Lat = nil }},
		{"lat", func(u *delivery.LocationUpdate) { u.Lat = f(math.NaN()) }},
		{"lat", func(u *delivery.LocationUpdate) { u.Lat = f(math.Inf(1)) }},
		{"lat", func(u *delivery.LocationUpdate) { u.Lat = f(-90.5) }},
		{"lng", func(u *delivery.LocationUpdate) { u.Lng = f(math.Inf(-1)) }},
		{"lng", func(u *delivery.LocationUpdate) { u.Lng = f(181) }},
		{"heading", func(u *delivery.LocationUpdate) { u.Heading = f(math.NaN()) }},
		{"heading", func(u *delivery.LocationUpdate) { u.Heading = f(-0.5) }},
		{"speed", func(u *delivery.LocationUpdate) { u.Speed = f(math.Inf(1)) }},
		{"speed", func(u *delivery.LocationUpdate) { u.Speed = f(-1) }},
		{"ts", func(u *delivery.LocationUpdate) { u.Ts = 0 }},
		{"ts", func(u *delivery.LocationUpdate) { u.Ts = -1 }},
		{"ts", func(u *delivery.LocationUpdate) { u.Ts = now.Add(time.Minute + time.Millisecond).UnixMilli() }},
	} {
		u := ok()
		tc.edit(&u)
		_, err := delivery.CheckLocation(7, u, now)
		if delivery.ErrorCode(err) != delivery.EINVALID || !strings.HasPrefix(delivery.ErrorMessage(err), tc.field+":") {
			t.Errorf("%+v: %v, want invalid naming %s", u, err, tc.field)
		}
	}
	u := ok()
	u.Heading, u.Speed, u.Ts = nil, nil, now.Add(time.Minute).UnixMilli()
	if _, err := delivery.CheckLocation(7, u, now); err != nil {
		t.Fatalf("optional fields absent, ts a minute ahead: %v", err)
	}
}

func TestIsActiveDelivery(t *testing.T) {
	courier := delivery.ID(3)
	for _, st := range delivery.Statuses {
		want := st == delivery.StatusAccepted || st == delivery.StatusPreparing || st == delivery.StatusReady || st == delivery.StatusPickedUp
		if got := delivery.IsActiveDelivery(delivery.Order{Status: st, CourierID: &courier}); got != want {
			t.Errorf("%s with a courier: %v, want %v", st, got, want)
		}
		if delivery.IsActiveDelivery(delivery.Order{Status: st}) {
			t.Errorf("%s without a courier is active", st)
		}
	}
}

func TestChatClosed(t *testing.T) {
	end := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, st := range delivery.Statuses {
		o := delivery.Order{Status: st, UpdatedAt: end.Add(time.Hour), FinishedAt: &end}
		if !st.Terminal() {
			o.FinishedAt = nil
		}
		if delivery.ChatClosed(o, end.Add(time.Hour-time.Nanosecond)) {
			t.Errorf("%s: closed before the hour is over", st)
		}
		if got := delivery.ChatClosed(o, end.Add(time.Hour)); got != st.Terminal() {
			t.Errorf("%s an hour after: closed=%v", st, got)
		}
	}
	// A terminal order without FinishedAt (a row from before it existed)
	// counts from its last update.
	legacy := delivery.Order{Status: delivery.StatusDelivered, UpdatedAt: end}
	if !delivery.ChatClosed(legacy, end.Add(time.Hour)) || delivery.ChatClosed(legacy, end.Add(time.Minute)) {
		t.Error("legacy terminal order")
	}
}
