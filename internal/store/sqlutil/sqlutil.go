// Package sqlutil holds what the SQL stores share that is not SQL: time
// normalization, JSON columns, the order-mutation steps around the database
// writes, and running migrations. Each engine keeps its own queries.
package sqlutil

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/ordercast/ordercast/internal/delivery"
)

// TimeLayout is how SQLite columns hold times: UTC with exactly six
// fractional digits, so that text order is time order.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Time returns t as the stores keep it: UTC, truncated to microseconds
// (both engines' precision), without a monotonic reading.
func Time(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Now is the current time as the stores keep it.
func Now() time.Time { return Time(time.Now()) }

// FormatTime returns t in TimeLayout.
func FormatTime(t time.Time) string { return Time(t).Format(TimeLayout) }

// ParseTime parses a time written by FormatTime.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// NormalizeEmail returns the form emails are stored and looked up in; the
// unique index on it makes emails unique case-insensitively.
func NormalizeEmail(email string) string { return strings.ToLower(email) }

// NewOrder returns o as CreateOrder stores it: status placed, seq 1, both
// times now, a non-nil Items, and none of the fields the store sets later
// or reads with the order (FinishedAt, ETA, the stays, the restaurant's
// name and place), which the insert does not write: an order answered
// with them would not be the row.
func NewOrder(o delivery.Order, now time.Time) delivery.Order {
	o = CloneOrder(o)
	o.ID = 0
	o.Status = delivery.StatusPlaced
	o.Seq = 1
	o.CreatedAt = now
	o.UpdatedAt = now
	o.RestaurantName, o.RestaurantPlace = "", nil
	o.FinishedAt, o.AssignedAt, o.AcceptedAt = nil, nil, nil
	o.ETA = nil
	o.PickupStay, o.DropoffStay = delivery.Stay{}, delivery.Stay{}
	return o
}

// CloneOrder returns a deep copy of o, so that a mutation of the copy never
// reaches the original's items or courier; Items is never nil.
func CloneOrder(o delivery.Order) delivery.Order {
	items := make([]delivery.OrderItem, len(o.Items))
	copy(items, o.Items)
	o.Items = items
	if o.CourierID != nil {
		id := *o.CourierID
		o.CourierID = &id
	}
	for _, tp := range []**time.Time{&o.FinishedAt, &o.AssignedAt, &o.AcceptedAt} {
		if *tp != nil {
			t := **tp
			*tp = &t
		}
	}
	for _, fp := range []**float64{&o.DeliveryLat, &o.DeliveryLng} {
		if *fp != nil {
			f := **fp
			*fp = &f
		}
	}
	if o.RestaurantPlace != nil {
		p := *o.RestaurantPlace
		o.RestaurantPlace = &p
	}
	o.ETA = o.ETA.Clone()
	return o
}

// MarshalItems encodes order items for the items column; nil becomes [].
func MarshalItems(items []delivery.OrderItem) ([]byte, error) {
	if items == nil {
		items = []delivery.OrderItem{}
	}
	b, err := json.Marshal(items)
	if err != nil {
		return nil, fmt.Errorf("encode order items: %w", err)
	}
	return b, nil
}

// UnmarshalItems decodes the items column; the result is never nil.
func UnmarshalItems(b []byte) ([]delivery.OrderItem, error) {
	items := []delivery.OrderItem{}
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf("decode order items: %w", err)
	}
	if items == nil {
		items = []delivery.OrderItem{}
	}
	return items, nil
}

// Mutate runs the non-SQL part of UpdateOrder on old, the locked current
// row: it calls mutate on a deep copy and, if mutate succeeds, returns the
// order to write (next seq, UpdatedAt now), the event to append and the
// change itself (its MaxActive is the store's to check). The
// identity of the order (id, customer, restaurant, creation time, drop-off
// place) is not mutable and is restored from old, and so are the store's
// own times (FinishedAt, AssignedAt, AcceptedAt) and its ETA (nil once
// terminal). A change of courier clears the stays' runs (Stays). mutate's
// error comes back unwrapped.
func Mutate(old delivery.Order, mutate func(*delivery.Order) (delivery.Change, error), now time.Time) (delivery.Order, delivery.Event, delivery.Change, error) {
	o := CloneOrder(old)
	change, err := mutate(&o)
	if err != nil {
		return delivery.Order{}, delivery.Event{}, delivery.Change{}, err
	}
	if change.Type == "" {
		return delivery.Order{}, delivery.Event{}, delivery.Change{}, errors.New("update order: mutate returned a change without an event type")
	}
	o.ID, o.CustomerID, o.RestaurantID, o.CreatedAt = old.ID, old.CustomerID, old.RestaurantID, old.CreatedAt
	o.RestaurantName, o.RestaurantPlace = old.RestaurantName, old.RestaurantPlace
	o.DeliveryLat, o.DeliveryLng = old.DeliveryLat, old.DeliveryLng
	if o.Items == nil {
		o.Items = []delivery.OrderItem{}
	}
	o.Seq = old.Seq + 1
	o.UpdatedAt = now
	o.FinishedAt = finishedAt(old, o.Status, now)
	o.AssignedAt = assignedAt(old, o.CourierID, now)
	o.AcceptedAt = acceptedAt(old, o.Status, now)
	o.ETA = old.ETA
	if o.Status.Terminal() {
		o.ETA = nil
	}
	if !SameID(old.CourierID, o.CourierID) {
		o.PickupStay, o.DropoffStay = newCourierStay(o.PickupStay), newCourierStay(o.DropoffStay)
	}
	var payload any = o
	switch {
	case change.Data != nil:
		payload = change.Data
	case change.Payload != nil:
		payload = change.Payload(CloneOrder(o))
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return delivery.Order{}, delivery.Event{}, delivery.Change{}, fmt.Errorf("encode %s event data: %w", change.Type, err)
	}
	ev := delivery.Event{OrderID: o.ID, Seq: o.Seq, Type: change.Type, Data: data, CreatedAt: now}
	return o, ev, change, nil
}

// finishedAt returns FinishedAt of an order moving from old to status at
// now: the time it first became terminal, nil while it is not. mutate
// cannot set it, so that the chat's closing time is the store's record.
func finishedAt(old delivery.Order, status delivery.Status, now time.Time) *time.Time {
	switch {
	case !status.Terminal():
		return nil
	case old.Status.Terminal() && old.FinishedAt != nil:
		t := *old.FinishedAt
		return &t
	}
	return &now
}

// assignedAt returns AssignedAt of an order moving from old to courier at
// now: the time this courier was assigned, nil without one.
func assignedAt(old delivery.Order, courier *delivery.ID, now time.Time) *time.Time {
	switch {
	case courier == nil:
		return nil
	case old.CourierID != nil && *old.CourierID == *courier && old.AssignedAt != nil:
		t := *old.AssignedAt
		return &t
	}
	return &now
}

// acceptedAt returns AcceptedAt of an order moving from old to status at
// now: the time it became accepted, kept afterwards.
func acceptedAt(old delivery.Order, status delivery.Status, now time.Time) *time.Time {
	switch {
	case old.AcceptedAt != nil:
		t := *old.AcceptedAt
		return &t
	case status == delivery.StatusAccepted && old.Status != delivery.StatusAccepted:
		return &now
	}
	return nil
}

// SameID reports whether two optional ids (couriers) are the same.
func SameID(a, b *delivery.ID) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// newCourierStay is a stay as another courier takes the order over: the
// run of positions was the previous courier's; an arrival stays (once per
// order and place).
func newCourierStay(st delivery.Stay) delivery.Stay { return delivery.Stay{Arrived: st.Arrived} }

// ActiveStatuses is the status list of delivery.IsActiveDelivery in SQL.
const ActiveStatuses = `('accepted', 'preparing', 'ready', 'picked_up')`

// CheckActive decides Change.MaxActive for a courier holding others
// active orders besides the one changed.
func CheckActive(others, max int) error {
	if others >= max {
		return delivery.Errorf(delivery.ETOOMANYACTIVE, "a courier holds at most %d active orders", max)
	}
	return nil
}

// Migrate applies every pending migration of fsys to db with goose, each in
// its own transaction.
func Migrate(ctx context.Context, dialect goose.Dialect, db *sql.DB, fsys fs.FS, opts ...goose.ProviderOption) error {
	opts = append([]goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}, opts...)
	p, err := goose.NewProvider(dialect, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}

// Wrap returns the *delivery.Error in err's chain as it is, so that callers
// get the documented *delivery.Error, and wraps any other error with the
// context op. It returns nil for nil.
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *delivery.Error
	if errors.As(err, &de) {
		return de
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Scanner is a row of database/sql (*sql.Row, *sql.Rows), for the scan
// functions that read one type from either.
type Scanner = interface{ Scan(dest ...any) error }

// Collect reads every row of rows with scan and closes rows. The result
// is never nil, so that an empty listing encodes as [].
func Collect[T any](rows *sql.Rows, scan func(Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	list := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return list, nil
}
