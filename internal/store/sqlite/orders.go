package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

// orderColumns are what scanOrder reads, in its order; the restaurant's
// name and place come along (by its primary key).
const orderColumns = `id, status, seq, customer_id, restaurant_id,
	(SELECT name FROM restaurants WHERE restaurants.id = orders.restaurant_id),
	(SELECT lat FROM restaurants WHERE restaurants.id = orders.restaurant_id),
	(SELECT lng FROM restaurants WHERE restaurants.id = orders.restaurant_id), courier_id, items, total_cents,
	delivery_address, delivery_lat, delivery_lng, notes, reason, created_at, updated_at, finished_at, assigned_at, accepted_at,
	pickup_from, pickup_last, pickup_arrived, dropoff_from, dropoff_last, dropoff_arrived,
	eta_at, eta_pickup_at, eta_deliver_at, eta_basis`

// eventColumns are what scanEvent reads, in its order.
const eventColumns = `order_id, seq, type, data, created_at`

func scanEvent(row sqlutil.Scanner) (delivery.Event, error) {
	var ev delivery.Event
	var data []byte
	err := row.Scan(&ev.OrderID, &ev.Seq, &ev.Type, &data, timeCol{&ev.CreatedAt})
	ev.Data = data
	return ev, err
}

func scanOrder(row sqlutil.Scanner) (delivery.Order, error) {
	var o delivery.Order
	var courier sql.NullInt64
	var items []byte
	var rlat, rlng *float64
	var eta sqlutil.ETAColumns
	err := row.Scan(&o.ID, &o.Status, &o.Seq, &o.CustomerID, &o.RestaurantID, &o.RestaurantName, &rlat, &rlng, &courier, &items,
		&o.TotalCents, &o.DeliveryAddress, &o.DeliveryLat, &o.DeliveryLng, &o.Notes, &o.Reason, timeCol{&o.CreatedAt}, timeCol{&o.UpdatedAt},
		nullTimeCol{&o.FinishedAt}, nullTimeCol{&o.AssignedAt}, nullTimeCol{&o.AcceptedAt},
		&o.PickupStay.From, &o.PickupStay.Last, &o.PickupStay.Arrived, &o.DropoffStay.From, &o.DropoffStay.Last, &o.DropoffStay.Arrived,
		&eta.At, &eta.PickupAt, &eta.DeliverAt, &eta.Basis)
	if err != nil {
		return delivery.Order{}, err
	}
	o.RestaurantPlace = sqlutil.PlaceOf(rlat, rlng)
	o.ETA = eta.ETA(o.ID)
	if courier.Valid {
		id := delivery.ID(courier.Int64)
		o.CourierID = &id
	}
	if o.Items, err = sqlutil.UnmarshalItems(items); err != nil {
		return delivery.Order{}, err
	}
	return o, nil
}

const orderByIDQuery = `SELECT ` + orderColumns + ` FROM orders WHERE id = ?`

func orderByID(ctx context.Context, q queryer, id delivery.ID) (delivery.Order, error) {
	return orderRow(id, q.QueryRowContext(ctx, orderByIDQuery, id))
}

// orderRow scans the row of orderByIDQuery for id.
func orderRow(id delivery.ID, row *sql.Row) (delivery.Order, error) {
	o, err := scanOrder(row)
	if errors.Is(err, sql.ErrNoRows) {
		return delivery.Order{}, delivery.Errorf(delivery.ENOTFOUND, "order %s not found", id)
	}
	if err != nil {
		return delivery.Order{}, fmt.Errorf("load order %s: %w", id, err)
	}
	return o, nil
}

// OrderByID returns the order with id, or ENOTFOUND.
func (s *Store) OrderByID(ctx context.Context, id delivery.ID) (delivery.Order, error) {
	o, err := orderRow(id, s.orderByID.QueryRowContext(ctx, id)) // prepared: see prepareHot
	return o, sqlutil.Wrap("sqlite", err)
}

// CreateOrder inserts o as placed with its order.created event. The write
// transaction holds SQLite's write lock from its first statement, so the
// idempotency lookup and the insert cannot interleave with another call.
func (s *Store) CreateOrder(ctx context.Context, o delivery.Order, key delivery.IdempotencyKey) (delivery.Order, bool, error) {
	o = sqlutil.NewOrder(o, sqlutil.Now())
	created := false
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		if key.Key != "" {
			var id delivery.ID
			var hash string
			err := tx.QueryRowContext(ctx, `
				SELECT id, request_hash FROM orders WHERE customer_id = ? AND idempotency_key = ?`,
				o.CustomerID, key.Key).Scan(&id, &hash)
			if err == nil {
				if hash != key.RequestHash {
					return delivery.Errorf(delivery.EIDEMPOTENCY, "idempotency key already used for another request")
				}
				o, err = tx.order(ctx, id)
				return err
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("look up idempotency key: %w", err)
			}
		}
		if err := insertOrder(ctx, tx, &o, key); err != nil {
			return err
		}
		tx.putOrder(o)
		created = true
		return nil
	})
	if err != nil {
		return delivery.Order{}, false, sqlutil.Wrap("sqlite: create order", err)
	}
	return o, created, nil
}

func insertOrder(ctx context.Context, tx *wtx, o *delivery.Order, key delivery.IdempotencyKey) error {
	items, err := sqlutil.MarshalItems(o.Items)
	if err != nil {
		return err
	}
	var idemKey, reqHash sql.NullString
	if key.Key != "" {
		idemKey = sql.NullString{String: key.Key, Valid: true}
		reqHash = sql.NullString{String: key.RequestHash, Valid: true}
	}
	err = tx.QueryRowContext(ctx, `
		INSERT INTO orders (status, seq, customer_id, restaurant_id, courier_id, items, total_cents,
			delivery_address, delivery_lat, delivery_lng, notes, reason, idempotency_key, request_hash, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		o.Status, o.Seq, o.CustomerID, o.RestaurantID, courierArg(o.CourierID), string(items), o.TotalCents,
		o.DeliveryAddress, o.DeliveryLat, o.DeliveryLng, o.Notes, o.Reason, idemKey, reqHash,
		sqlutil.FormatTime(o.CreatedAt), sqlutil.FormatTime(o.UpdatedAt)).Scan(&o.ID)
	if isForeignKey(err) {
		return delivery.Errorf(delivery.ENOTFOUND, "customer, restaurant or courier not found")
	}
	if err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	var lat, lng *float64
	if err := tx.QueryRowContext(ctx, `SELECT name, lat, lng FROM restaurants WHERE id = ?`, o.RestaurantID).
		Scan(&o.RestaurantName, &lat, &lng); err != nil {
		return fmt.Errorf("read restaurant name: %w", err)
	}
	o.RestaurantPlace = sqlutil.PlaceOf(lat, lng)
	ev, err := delivery.CreatedEvent(*o)
	if err != nil {
		return err
	}
	return insertEvent(ctx, tx, ev)
}

func courierArg(id *delivery.ID) any {
	if id == nil {
		return nil
	}
	return int64(*id)
}

func insertEvent(ctx context.Context, tx *wtx, ev delivery.Event) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO order_events (order_id, seq, type, data, created_at) VALUES (?, ?, ?, ?, ?)`,
		ev.OrderID, ev.Seq, ev.Type, string(ev.Data), sqlutil.FormatTime(ev.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert event %s/%d: %w", ev.OrderID, ev.Seq, err)
	}
	return nil
}

// UpdateOrder applies mutate to the order under the write lock and appends
// the change as the event with the next seq.
func (s *Store) UpdateOrder(ctx context.Context, id delivery.ID, mutate func(*delivery.Order) (delivery.Change, error)) (delivery.Order, delivery.Event, error) {
	var o delivery.Order
	var ev delivery.Event
	var mutateErr error
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		old, err := tx.order(ctx, id)
		if err != nil {
			return err
		}
		var change delivery.Change
		o, ev, change, mutateErr = sqlutil.Mutate(old, mutate, sqlutil.Now())
		if mutateErr != nil {
			return mutateErr
		}
		// The write lock held since the transaction began serializes
		// this count with every other claim.
		if err := checkActive(ctx, tx, o, change.MaxActive); err != nil {
			return err
		}
		query, args, err := updateOrderSQL(old, o)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("write order: %w", err)
		}
		if err := insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		tx.putOrder(o)
		return nil
	})
	if mutateErr != nil {
		return delivery.Order{}, delivery.Event{}, mutateErr
	}
	if err != nil {
		return delivery.Order{}, delivery.Event{}, sqlutil.Wrap("sqlite: update order", err)
	}
	return o, ev, nil
}

// updateOrderSQL returns the UPDATE that writes o over old: seq and
// updated_at, and only the other columns that changed, since SQLite
// rewrites the entries of every index (and checks the foreign key) of a
// column it is told to set, changed or not. Most changes (events, chat,
// a status) touch one or two columns.
func updateOrderSQL(old, o delivery.Order) (string, []any, error) {
	set := []string{"seq = ?", "updated_at = ?"}
	args := []any{o.Seq, sqlutil.FormatTime(o.UpdatedAt)}
	col := func(changed bool, name string, v any) {
		if changed {
			set = append(set, name+" = ?")
			args = append(args, v)
		}
	}
	col(o.Status != old.Status, "status", o.Status)
	col(!sqlutil.SameID(o.CourierID, old.CourierID), "courier_id", courierArg(o.CourierID))
	if !slices.Equal(o.Items, old.Items) {
		items, err := sqlutil.MarshalItems(o.Items)
		if err != nil {
			return "", nil, err
		}
		col(true, "items", string(items))
	}
	col(o.TotalCents != old.TotalCents, "total_cents", o.TotalCents)
	col(o.DeliveryAddress != old.DeliveryAddress, "delivery_address", o.DeliveryAddress)
	col(o.Notes != old.Notes, "notes", o.Notes)
	col(o.Reason != old.Reason, "reason", o.Reason)
	col(!sameTime(o.FinishedAt, old.FinishedAt), "finished_at", nullTimeArg(o.FinishedAt))
	col(!sameTime(o.AssignedAt, old.AssignedAt), "assigned_at", nullTimeArg(o.AssignedAt))
	col(!sameTime(o.AcceptedAt, old.AcceptedAt), "accepted_at", nullTimeArg(o.AcceptedAt))
	stay := func(at delivery.Arrival, st, was delivery.Stay) {
		from, last, arrived := sqlutil.StayColumns(at)
		col(st.From != was.From, from, st.From)
		col(st.Last != was.Last, last, st.Last)
		col(st.Arrived != was.Arrived, arrived, st.Arrived)
	}
	stay(delivery.AtPickup, o.PickupStay, old.PickupStay)
	stay(delivery.AtDropoff, o.DropoffStay, old.DropoffStay)
	if o.ETA == nil && old.ETA != nil {
		set = append(set, "eta_at = NULL, eta_pickup_at = NULL, eta_deliver_at = NULL, eta_basis = NULL")
	}
	return `UPDATE orders SET ` + strings.Join(set, ", ") + ` WHERE id = ?`, append(args, o.ID), nil
}

func sameTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}

// checkActive refuses, with ETOOMANYACTIVE, a change that leaves o's
// courier with more than max active orders (Change.MaxActive; 0: no cap).
func checkActive(ctx context.Context, tx *wtx, o delivery.Order, max int) error {
	if max <= 0 || !delivery.IsActiveDelivery(o) {
		return nil
	}
	var others int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders
		WHERE courier_id = ? AND id <> ? AND status IN `+sqlutil.ActiveStatuses, *o.CourierID, o.ID).Scan(&others)
	if err != nil {
		return fmt.Errorf("count active orders: %w", err)
	}
	return sqlutil.CheckActive(others, max)
}

// ListOrders returns the orders f selects, newest first. With no visibility
// field and not All it selects nothing.
func (s *Store) ListOrders(ctx context.Context, f delivery.OrderFilter) ([]delivery.Order, error) {
	var visible []string
	var args []any
	if !f.All {
		if f.CustomerID != 0 {
			visible = append(visible, `customer_id = ?`)
			args = append(args, f.CustomerID)
		}
		if f.RestaurantID != 0 {
			visible = append(visible, `restaurant_id = ?`)
			args = append(args, f.RestaurantID)
		}
		if f.CourierID != 0 {
			visible = append(visible, `courier_id = ?`)
			args = append(args, f.CourierID)
		}
		if f.Offered {
			visible = append(visible, `(courier_id IS NULL AND status IN ('accepted', 'preparing', 'ready'))`)
		}
		if len(visible) == 0 {
			return []delivery.Order{}, nil
		}
	}
	where := []string{"1 = 1"}
	if len(visible) > 0 {
		where = append(where, "("+strings.Join(visible, " OR ")+")")
	}
	if f.Status != "" {
		where = append(where, `status = ?`)
		args = append(args, f.Status)
	}
	if f.BeforeID != 0 {
		where = append(where, `id < ?`)
		args = append(args, f.BeforeID)
	}
	args = append(args, delivery.PageLimit(f.Limit))
	query := `SELECT ` + orderColumns + ` FROM orders WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY id DESC LIMIT ?`
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list orders: %w", err)
	}
	list, err := sqlutil.Collect(rows, scanOrder)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list orders: %w", err)
	}
	return list, nil
}

// EventsAfter returns up to limit events of the order with seq > after, in
// seq order; limit <= 0 means all of them.
func (s *Store) EventsAfter(ctx context.Context, orderID delivery.ID, after int64, limit int) ([]delivery.Event, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.read.QueryContext(ctx, `
		SELECT `+eventColumns+` FROM order_events
		WHERE order_id = ? AND seq > ? ORDER BY seq LIMIT ?`, orderID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events after: %w", err)
	}
	list, err := sqlutil.Collect(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events after: %w", err)
	}
	return list, nil
}
