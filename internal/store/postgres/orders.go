package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

// orderColumns are what scanOrder reads, in its order; the restaurant's
// name and place come along (by its primary key; FOR UPDATE locks only
// the order).
const orderColumns = `id, status, seq, customer_id, restaurant_id,
	(SELECT name FROM restaurants WHERE restaurants.id = orders.restaurant_id),
	(SELECT lat FROM restaurants WHERE restaurants.id = orders.restaurant_id),
	(SELECT lng FROM restaurants WHERE restaurants.id = orders.restaurant_id), courier_id, items, total_cents,
	delivery_address, delivery_lat, delivery_lng, notes, reason, created_at, updated_at, finished_at, assigned_at, accepted_at,
	pickup_from, pickup_last, pickup_arrived, dropoff_from, dropoff_last, dropoff_arrived,
	eta_at, eta_pickup_at, eta_deliver_at, eta_basis`

// rowTo adapts a scan function of single rows (QueryRow) to
// pgx.CollectRows, so that one function scans a type either way.
func rowTo[T any](scan func(pgx.Row) (T, error)) pgx.RowToFunc[T] {
	return func(row pgx.CollectableRow) (T, error) { return scan(row) }
}

func scanOrder(row pgx.Row) (delivery.Order, error) {
	var o delivery.Order
	var courier *int64
	var items []byte
	var rlat, rlng *float64
	var eta sqlutil.ETAColumns
	err := row.Scan(&o.ID, &o.Status, &o.Seq, &o.CustomerID, &o.RestaurantID, &o.RestaurantName, &rlat, &rlng, &courier, &items,
		&o.TotalCents, &o.DeliveryAddress, &o.DeliveryLat, &o.DeliveryLng, &o.Notes, &o.Reason, &o.CreatedAt, &o.UpdatedAt,
		&o.FinishedAt, &o.AssignedAt, &o.AcceptedAt,
		&o.PickupStay.From, &o.PickupStay.Last, &o.PickupStay.Arrived, &o.DropoffStay.From, &o.DropoffStay.Last, &o.DropoffStay.Arrived,
		&eta.At, &eta.PickupAt, &eta.DeliverAt, &eta.Basis)
	if err != nil {
		return delivery.Order{}, err
	}
	o.RestaurantPlace = sqlutil.PlaceOf(rlat, rlng)
	o.ETA = eta.ETA(o.ID)
	if courier != nil {
		id := delivery.ID(*courier)
		o.CourierID = &id
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	for _, tp := range []**time.Time{&o.FinishedAt, &o.AssignedAt, &o.AcceptedAt} {
		if *tp != nil {
			t := (*tp).UTC()
			*tp = &t
		}
	}
	if o.Items, err = sqlutil.UnmarshalItems(items); err != nil {
		return delivery.Order{}, err
	}
	return o, nil
}

// orderByIDQuery selects an order by id; orderForUpdateQuery locks it
// too (inside a transaction).
const (
	orderByIDQuery      = `SELECT ` + orderColumns + ` FROM orders WHERE id = $1`
	orderForUpdateQuery = orderByIDQuery + ` FOR UPDATE`
)

// orderByID loads an order, or returns ENOTFOUND.
func orderByID(ctx context.Context, q queryer, id delivery.ID) (delivery.Order, error) {
	o, found, err := loadedOrder(id, q.QueryRow(ctx, orderByIDQuery, id))
	if err == nil && !found {
		err = orderNotFound(id)
	}
	return o, err
}

// queueOrder queues in b the locking read of order id into o, and sets
// found if there is one. No order is not an error of the batch, which
// would make pgx drop the batch's prepared statements: the caller returns
// orderNotFound after send.
func queueOrder(b *pgx.Batch, id delivery.ID, o *delivery.Order, found *bool) {
	b.Queue(orderForUpdateQuery, id).QueryRow(func(row pgx.Row) error {
		var err error
		*o, *found, err = loadedOrder(id, row)
		return err
	})
}

// loadedOrder scans row, the answer of orderByIDQuery or
// orderForUpdateQuery for id; found is false if it has none.
func loadedOrder(id delivery.ID, row pgx.Row) (o delivery.Order, found bool, err error) {
	o, err = scanOrder(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return delivery.Order{}, false, nil
	}
	if err != nil {
		return delivery.Order{}, false, fmt.Errorf("load order %s: %w", id, err)
	}
	return o, true, nil
}

// orderNotFound is the error for an order id that does not exist.
func orderNotFound(id delivery.ID) error {
	return delivery.Errorf(delivery.ENOTFOUND, "order %s not found", id)
}

// OrderByID returns the order with id, or ENOTFOUND.
func (s *Store) OrderByID(ctx context.Context, id delivery.ID) (delivery.Order, error) {
	o, err := orderByID(ctx, s.pool, id)
	return o, sqlutil.Wrap("postgres", err)
}

// CreateOrder inserts o as placed with its order.created event. A call
// whose key is taken does not insert: ON CONFLICT waits for the transaction
// that holds the key to commit and then does nothing, and the committed
// order is returned instead.
func (s *Store) CreateOrder(ctx context.Context, o delivery.Order, key delivery.IdempotencyKey) (delivery.Order, bool, error) {
	o = sqlutil.NewOrder(o, sqlutil.Now())
	created := false
	items, err := sqlutil.MarshalItems(o.Items)
	if err != nil {
		return delivery.Order{}, false, sqlutil.Wrap("postgres: create order", err)
	}
	var idemKey, reqHash *string
	if key.Key != "" {
		idemKey, reqHash = &key.Key, &key.RequestHash
	}
	err = s.inTx(ctx, func(tx *txn) error {
		// The insert and the restaurant's name in one round trip; the
		// name is read whether or not the key was taken, and only a new
		// order uses it.
		taken := false
		b := &pgx.Batch{}
		b.Queue(`
			INSERT INTO orders (status, seq, customer_id, restaurant_id, courier_id, items, total_cents,
				delivery_address, delivery_lat, delivery_lng, notes, reason, idempotency_key, request_hash, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			ON CONFLICT (customer_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING id`,
			o.Status, o.Seq, o.CustomerID, o.RestaurantID, courierArg(o.CourierID), string(items), o.TotalCents,
			o.DeliveryAddress, o.DeliveryLat, o.DeliveryLng, o.Notes, o.Reason, idemKey, reqHash, o.CreatedAt, o.UpdatedAt).
			QueryRow(func(row pgx.Row) error {
				err := row.Scan(&o.ID)
				switch {
				case errors.Is(err, pgx.ErrNoRows):
					taken = true
					return nil
				case isForeignKey(err):
					return delivery.Errorf(delivery.ENOTFOUND, "customer, restaurant or courier not found")
				case err != nil:
					return fmt.Errorf("insert order: %w", err)
				}
				return nil
			})
		b.Queue(`SELECT name, lat, lng FROM restaurants WHERE id = $1`, o.RestaurantID).QueryRow(func(row pgx.Row) error {
			var lat, lng *float64
			if err := row.Scan(&o.RestaurantName, &lat, &lng); err != nil && !taken {
				return fmt.Errorf("read restaurant name: %w", err)
			}
			o.RestaurantPlace = sqlutil.PlaceOf(lat, lng)
			return nil
		})
		if err := tx.send(ctx, b); err != nil {
			return err
		}
		if taken {
			var err error
			o, err = orderByKey(ctx, tx, o.CustomerID, key)
			return err
		}
		ev, err := delivery.CreatedEvent(o)
		if err != nil {
			return err
		}
		b = &pgx.Batch{}
		queueEvent(b, ev)
		if err := tx.commit(ctx, b); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return delivery.Order{}, false, sqlutil.Wrap("postgres: create order", err)
	}
	return o, created, nil
}

// orderByKey returns the order a customer placed with key, or EIDEMPOTENCY
// if it was placed by another request.
func orderByKey(ctx context.Context, tx queryer, customerID delivery.ID, key delivery.IdempotencyKey) (delivery.Order, error) {
	var id delivery.ID
	var hash string
	err := tx.QueryRow(ctx, `SELECT id, request_hash FROM orders WHERE customer_id = $1 AND idempotency_key = $2`,
		customerID, key.Key).Scan(&id, &hash)
	if err != nil {
		return delivery.Order{}, fmt.Errorf("look up idempotency key: %w", err)
	}
	if hash != key.RequestHash {
		return delivery.Order{}, delivery.Errorf(delivery.EIDEMPOTENCY, "idempotency key already used for another request")
	}
	return orderByID(ctx, tx, id)
}

func courierArg(id *delivery.ID) *int64 {
	if id == nil {
		return nil
	}
	v := int64(*id)
	return &v
}

// queueEvent queues in b the insert of ev.
func queueEvent(b *pgx.Batch, ev delivery.Event) {
	b.Queue(`
		INSERT INTO order_events (order_id, seq, type, data, created_at) VALUES ($1, $2, $3, $4, $5)`,
		ev.OrderID, ev.Seq, ev.Type, string(ev.Data), ev.CreatedAt).Fn = execFn(func(err error) error {
		return fmt.Errorf("insert event %s/%d: %w", ev.OrderID, ev.Seq, err)
	})
}

// UpdateOrder locks the order row, applies mutate and appends the change as
// the event with the next seq, in a batch with the calls that queued
// meanwhile (batch.go); mutate may run more than once.
func (s *Store) UpdateOrder(ctx context.Context, id delivery.ID, mutate func(*delivery.Order) (delivery.Change, error)) (delivery.Order, delivery.Event, error) {
	return s.updaters.update(ctx, id, mutate)
}

// updateOne is UpdateOrder in a transaction of its own.
func (s *Store) updateOne(ctx context.Context, id delivery.ID, mutate func(*delivery.Order) (delivery.Change, error)) (delivery.Order, delivery.Event, error) {
	var o delivery.Order
	var ev delivery.Event
	var mutateErr error
	err := s.inTx(ctx, func(tx *txn) error {
		var old delivery.Order
		found := false
		b := &pgx.Batch{}
		queueOrder(b, id, &old, &found)
		if err := tx.send(ctx, b); err != nil {
			return err
		}
		if !found {
			return orderNotFound(id)
		}
		var change delivery.Change
		o, ev, change, mutateErr = sqlutil.Mutate(old, mutate, sqlutil.Now())
		if mutateErr != nil {
			return mutateErr
		}
		if err := checkActive(ctx, tx, o, change.MaxActive); err != nil {
			return err
		}
		items, err := sqlutil.MarshalItems(o.Items)
		if err != nil {
			return err
		}
		b = &pgx.Batch{}
		etaAt, etaPickup, etaDeliver, etaBasis := sqlutil.ETAArgs(o.ETA)
		b.Queue(`
			UPDATE orders SET status = $1, seq = $2, courier_id = $3, items = $4, total_cents = $5,
				delivery_address = $6, notes = $7, reason = $8, updated_at = $9, finished_at = $10, assigned_at = $11,
				accepted_at = $12, pickup_from = $13, pickup_last = $14, pickup_arrived = $15,
				dropoff_from = $16, dropoff_last = $17, dropoff_arrived = $18,
				eta_at = $19, eta_pickup_at = $20, eta_deliver_at = $21, eta_basis = $22
			WHERE id = $23`,
			o.Status, o.Seq, courierArg(o.CourierID), string(items), o.TotalCents,
			o.DeliveryAddress, o.Notes, o.Reason, o.UpdatedAt, o.FinishedAt, o.AssignedAt,
			o.AcceptedAt, o.PickupStay.From, o.PickupStay.Last, o.PickupStay.Arrived,
			o.DropoffStay.From, o.DropoffStay.Last, o.DropoffStay.Arrived,
			etaAt, etaPickup, etaDeliver, etaBasis, o.ID).Fn = execFn(wrapErr("write order"))
		queueEvent(b, ev)
		return tx.commit(ctx, b)
	})
	if mutateErr != nil {
		return delivery.Order{}, delivery.Event{}, mutateErr
	}
	if err != nil {
		return delivery.Order{}, delivery.Event{}, sqlutil.Wrap("postgres: update order", err)
	}
	return o, ev, nil
}

// checkActive refuses, with ETOOMANYACTIVE, a change that leaves o's
// courier with more than max active orders (Change.MaxActive; 0: no cap).
// Claims of one courier on different orders lock different order rows,
// so the courier's user row is locked first: it serializes them, and the
// count then sees every committed claim of that courier.
func checkActive(ctx context.Context, tx *txn, o delivery.Order, max int) error {
	if max <= 0 || !delivery.IsActiveDelivery(o) {
		return nil
	}
	// One round trip: the count is a statement of its own, run once the
	// lock is held, so its snapshot sees what the lock waited for.
	var others int
	b := &pgx.Batch{}
	b.Queue(`SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, *o.CourierID).Fn = execFn(wrapErr("lock courier"))
	b.Queue(`SELECT COUNT(*) FROM orders
		WHERE courier_id = $1 AND id <> $2 AND status IN `+sqlutil.ActiveStatuses, *o.CourierID, o.ID).
		QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&others); err != nil {
				return fmt.Errorf("count active orders: %w", err)
			}
			return nil
		})
	if err := tx.send(ctx, b); err != nil {
		return err
	}
	return sqlutil.CheckActive(others, max)
}

// ListOrders returns the orders f selects, newest first. With no visibility
// field and not All it selects nothing.
func (s *Store) ListOrders(ctx context.Context, f delivery.OrderFilter) ([]delivery.Order, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var visible []string
	if !f.All {
		if f.CustomerID != 0 {
			visible = append(visible, `customer_id = `+arg(f.CustomerID))
		}
		if f.RestaurantID != 0 {
			visible = append(visible, `restaurant_id = `+arg(f.RestaurantID))
		}
		if f.CourierID != 0 {
			visible = append(visible, `courier_id = `+arg(f.CourierID))
		}
		if f.Offered {
			visible = append(visible, `(courier_id IS NULL AND status IN ('accepted', 'preparing', 'ready'))`)
		}
		if len(visible) == 0 {
			return []delivery.Order{}, nil
		}
	}
	where := []string{"true"}
	if len(visible) > 0 {
		where = append(where, "("+strings.Join(visible, " OR ")+")")
	}
	if f.Status != "" {
		where = append(where, `status = `+arg(f.Status))
	}
	if f.BeforeID != 0 {
		where = append(where, `id < `+arg(f.BeforeID))
	}
	query := `SELECT ` + orderColumns + ` FROM orders WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY id DESC LIMIT ` + arg(delivery.PageLimit(f.Limit))
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list orders: %w", err)
	}
	list, err := pgx.CollectRows(rows, rowTo(scanOrder))
	if err != nil {
		return nil, fmt.Errorf("postgres: list orders: %w", err)
	}
	return list, nil
}

// EventsAfter returns up to limit events of the order with seq > after, in
// seq order; limit <= 0 means all of them.
func (s *Store) EventsAfter(ctx context.Context, orderID delivery.ID, after int64, limit int) ([]delivery.Event, error) {
	var lim *int64 // LIMIT NULL is no limit
	if limit > 0 {
		v := int64(limit)
		lim = &v
	}
	rows, err := s.pool.Query(ctx, `
		SELECT order_id, seq, type, data, created_at FROM order_events
		WHERE order_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, orderID, after, lim)
	if err != nil {
		return nil, fmt.Errorf("postgres: events after: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("postgres: events after: %w", err)
	}
	return list, nil
}
