package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

const restaurantColumns = `id, name, lat, lng, prep_minutes, created_at`

func scanRestaurant(row sqlutil.Scanner) (delivery.Restaurant, error) {
	var r delivery.Restaurant
	var lat, lng *float64
	err := row.Scan(&r.ID, &r.Name, &lat, &lng, &r.PrepMinutes, timeCol{&r.CreatedAt})
	r.Place = sqlutil.PlaceOf(lat, lng)
	return r, err
}

// ListRestaurants returns every restaurant in id order.
func (s *Store) ListRestaurants(ctx context.Context) ([]delivery.Restaurant, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+restaurantColumns+` FROM restaurants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list restaurants: %w", err)
	}
	list, err := sqlutil.Collect(rows, scanRestaurant)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list restaurants: %w", err)
	}
	return list, nil
}

// RestaurantByID returns the restaurant with id, or ENOTFOUND.
func (s *Store) RestaurantByID(ctx context.Context, id delivery.ID) (delivery.Restaurant, error) {
	return restaurantResult(id, s.read.QueryRowContext(ctx, `SELECT `+restaurantColumns+` FROM restaurants WHERE id = ?`, id))
}

func restaurantResult(id delivery.ID, row *sql.Row) (delivery.Restaurant, error) {
	r, err := scanRestaurant(row)
	if errors.Is(err, sql.ErrNoRows) {
		return delivery.Restaurant{}, delivery.Errorf(delivery.ENOTFOUND, "restaurant %s not found", id)
	}
	if err != nil {
		return delivery.Restaurant{}, fmt.Errorf("sqlite: load restaurant: %w", err)
	}
	return r, nil
}

// UpdateRestaurant sets the fields p holds.
func (s *Store) UpdateRestaurant(ctx context.Context, id delivery.ID, p delivery.RestaurantPatch) (delivery.Restaurant, error) {
	lat, lng := sqlutil.PlaceArgs(p.Place)
	var r delivery.Restaurant
	err := s.inTx(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		r, err = restaurantResult(id, tx.QueryRowContext(ctx, `
			UPDATE restaurants SET name = COALESCE(?, name), prep_minutes = COALESCE(?, prep_minutes),
				lat = CASE WHEN ? THEN ? ELSE lat END, lng = CASE WHEN ? THEN ? ELSE lng END
			WHERE id = ? RETURNING `+restaurantColumns,
			p.Name, p.PrepMinutes, p.Place != nil, lat, p.Place != nil, lng, id))
		return err
	})
	if err != nil {
		return delivery.Restaurant{}, sqlutil.Wrap("sqlite: update restaurant", err)
	}
	return r, nil
}

// activeOrdersQuery uses orders_courier_idx; the status list must stay the
// same as delivery.IsActiveDelivery. The restaurant comes along by its
// primary key.
const activeOrdersQuery = `SELECT o.id, o.seq, o.assigned_at, o.status, o.customer_id, o.restaurant_id, o.accepted_at,
		r.prep_minutes, r.lat, r.lng, o.delivery_lat, o.delivery_lng,
		o.pickup_from, o.pickup_last, o.pickup_arrived, o.dropoff_from, o.dropoff_last, o.dropoff_arrived,
		o.eta_at, o.eta_pickup_at, o.eta_deliver_at, o.eta_basis
	FROM orders o JOIN restaurants r ON r.id = o.restaurant_id
	WHERE o.courier_id = ? AND o.status IN ('accepted', 'preparing', 'ready', 'picked_up')
	ORDER BY o.id DESC LIMIT ?`

// ActiveOrdersOfCourier runs activeOrdersQuery, prepared (see prepareHot).
func (s *Store) ActiveOrdersOfCourier(ctx context.Context, courierID delivery.ID) ([]delivery.ActiveOrder, error) {
	rows, err := s.activeOrders.QueryContext(ctx, courierID, delivery.MaxActiveOrders)
	if err != nil {
		return nil, fmt.Errorf("sqlite: active orders: %w", err)
	}
	list, err := sqlutil.Collect(rows, func(row sqlutil.Scanner) (delivery.ActiveOrder, error) {
		var o delivery.ActiveOrder
		var assigned, accepted *time.Time
		var rlat, rlng, dlat, dlng *float64
		var eta sqlutil.ETAColumns
		err := row.Scan(&o.ID, &o.Seq, nullTimeCol{&assigned}, &o.Status, &o.CustomerID, &o.RestaurantID, nullTimeCol{&accepted},
			&o.PrepMinutes, &rlat, &rlng, &dlat, &dlng,
			&o.PickupStay.From, &o.PickupStay.Last, &o.PickupStay.Arrived, &o.DropoffStay.From, &o.DropoffStay.Last, &o.DropoffStay.Arrived,
			&eta.At, &eta.PickupAt, &eta.DeliverAt, &eta.Basis)
		if assigned != nil {
			o.AssignedAt = *assigned
		}
		if accepted != nil {
			o.AcceptedAt = *accepted
		}
		o.CourierID = courierID
		o.Pickup, o.Dropoff = sqlutil.PlaceOf(rlat, rlng), sqlutil.PlaceOf(dlat, dlng)
		o.ETA = eta.ETA(o.ID)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: active orders: %w", err)
	}
	return list, nil
}

// RecordStay writes the stay in one conditional UPDATE: its WHERE is the
// compare-and-set, and the write lock orders it with every other write.
func (s *Store) RecordStay(ctx context.Context, orderID, courierID delivery.ID, at delivery.Arrival, was, next delivery.Stay) (bool, error) {
	from, last, arrived := sqlutil.StayColumns(at)
	var n int64
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		tx.forgetOrder(orderID)
		res, err := tx.ExecContext(ctx, `UPDATE orders SET `+from+` = ?, `+last+` = ?
			WHERE id = ? AND courier_id = ? AND status IN `+sqlutil.StayStatuses(at)+`
				AND `+from+` = ? AND `+last+` = ? AND `+arrived+` = 0`,
			next.From, next.Last, orderID, courierID, was.From, was.Last)
		if err != nil {
			return fmt.Errorf("record stay: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, sqlutil.Wrap("sqlite: record stay", err)
	}
	return n == 1, nil
}

// StoreETA writes the estimate in one conditional UPDATE, as RecordStay.
func (s *Store) StoreETA(ctx context.Context, orderID delivery.ID, status delivery.Status, wasAt int64, eta delivery.ETA) (bool, error) {
	at, pickup, deliver, basis := sqlutil.ETAArgs(&eta)
	var n int64
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		tx.forgetOrder(orderID)
		res, err := tx.ExecContext(ctx, `UPDATE orders SET eta_at = ?, eta_pickup_at = ?, eta_deliver_at = ?, eta_basis = ?
			WHERE id = ? AND status = ? AND status IN `+sqlutil.ActiveStatuses+` AND COALESCE(eta_at, 0) = ?`,
			at, pickup, deliver, basis, orderID, status, wasAt)
		if err != nil {
			return fmt.Errorf("store eta: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, sqlutil.Wrap("sqlite: store eta", err)
	}
	return n == 1, nil
}
