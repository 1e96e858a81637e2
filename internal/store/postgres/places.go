package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

const restaurantColumns = `id, name, lat, lng, prep_minutes, created_at`

func scanRestaurant(row pgx.Row) (delivery.Restaurant, error) {
	var r delivery.Restaurant
	var lat, lng *float64
	err := row.Scan(&r.ID, &r.Name, &lat, &lng, &r.PrepMinutes, &r.CreatedAt)
	r.Place = sqlutil.PlaceOf(lat, lng)
	r.CreatedAt = r.CreatedAt.UTC()
	return r, err
}

// ListRestaurants returns every restaurant in id order.
func (s *Store) ListRestaurants(ctx context.Context) ([]delivery.Restaurant, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+restaurantColumns+` FROM restaurants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list restaurants: %w", err)
	}
	list, err := pgx.CollectRows(rows, rowTo(scanRestaurant))
	if err != nil {
		return nil, fmt.Errorf("postgres: list restaurants: %w", err)
	}
	return list, nil
}

// RestaurantByID returns the restaurant with id, or ENOTFOUND.
func (s *Store) RestaurantByID(ctx context.Context, id delivery.ID) (delivery.Restaurant, error) {
	return restaurantResult(id, s.pool.QueryRow(ctx, `SELECT `+restaurantColumns+` FROM restaurants WHERE id = $1`, id))
}

func restaurantResult(id delivery.ID, row pgx.Row) (delivery.Restaurant, error) {
	r, err := scanRestaurant(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return delivery.Restaurant{}, delivery.Errorf(delivery.ENOTFOUND, "restaurant %s not found", id)
	}
	if err != nil {
		return delivery.Restaurant{}, fmt.Errorf("postgres: load restaurant: %w", err)
	}
	return r, nil
}

// UpdateRestaurant sets the fields p holds, in one statement.
func (s *Store) UpdateRestaurant(ctx context.Context, id delivery.ID, p delivery.RestaurantPatch) (delivery.Restaurant, error) {
	lat, lng := sqlutil.PlaceArgs(p.Place)
	r, err := restaurantResult(id, s.pool.QueryRow(ctx, `
		UPDATE restaurants SET name = COALESCE($2, name), prep_minutes = COALESCE($3, prep_minutes),
			lat = CASE WHEN $4 THEN $5::double precision ELSE lat END,
			lng = CASE WHEN $4 THEN $6::double precision ELSE lng END
		WHERE id = $1 RETURNING `+restaurantColumns,
		id, p.Name, p.PrepMinutes, p.Place != nil, lat, lng))
	return r, sqlutil.Wrap("postgres: update restaurant", err)
}

// ActiveOrdersOfCourier uses orders_courier_idx; the status list must stay
// the same as delivery.IsActiveDelivery. The restaurant comes along by its
// primary key.
func (s *Store) ActiveOrdersOfCourier(ctx context.Context, courierID delivery.ID) ([]delivery.ActiveOrder, error) {
	rows, err := s.pool.Query(ctx, `SELECT o.id, o.seq, COALESCE(o.assigned_at, 'epoch'), o.status, o.customer_id, o.restaurant_id,
			o.accepted_at, r.prep_minutes, r.lat, r.lng, o.delivery_lat, o.delivery_lng,
			o.pickup_from, o.pickup_last, o.pickup_arrived, o.dropoff_from, o.dropoff_last, o.dropoff_arrived,
			o.eta_at, o.eta_pickup_at, o.eta_deliver_at, o.eta_basis
		FROM orders o JOIN restaurants r ON r.id = o.restaurant_id
		WHERE o.courier_id = $1 AND o.status IN ('accepted', 'preparing', 'ready', 'picked_up')
		ORDER BY o.id DESC LIMIT $2`, courierID, delivery.MaxActiveOrders)
	if err != nil {
		return nil, fmt.Errorf("postgres: active orders: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (delivery.ActiveOrder, error) {
		var o delivery.ActiveOrder
		var accepted *time.Time
		var rlat, rlng, dlat, dlng *float64
		var eta sqlutil.ETAColumns
		err := row.Scan(&o.ID, &o.Seq, &o.AssignedAt, &o.Status, &o.CustomerID, &o.RestaurantID,
			&accepted, &o.PrepMinutes, &rlat, &rlng, &dlat, &dlng,
			&o.PickupStay.From, &o.PickupStay.Last, &o.PickupStay.Arrived, &o.DropoffStay.From, &o.DropoffStay.Last, &o.DropoffStay.Arrived,
			&eta.At, &eta.PickupAt, &eta.DeliverAt, &eta.Basis)
		o.AssignedAt = o.AssignedAt.UTC()
		if accepted != nil {
			o.AcceptedAt = accepted.UTC()
		}
		o.CourierID = courierID
		o.Pickup, o.Dropoff = sqlutil.PlaceOf(rlat, rlng), sqlutil.PlaceOf(dlat, dlng)
		o.ETA = eta.ETA(o.ID)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: active orders: %w", err)
	}
	return list, nil
}

// RecordStay writes the stay in one conditional UPDATE: its WHERE is the
// compare-and-set, and the row lock it takes orders it with the order's
// other changes (a concurrent one re-checks the WHERE once that commits).
func (s *Store) RecordStay(ctx context.Context, orderID, courierID delivery.ID, at delivery.Arrival, was, next delivery.Stay) (bool, error) {
	from, last, arrived := sqlutil.StayColumns(at)
	tag, err := s.pool.Exec(ctx, `UPDATE orders SET `+from+` = $1, `+last+` = $2
		WHERE id = $3 AND courier_id = $4 AND status IN `+sqlutil.StayStatuses(at)+`
			AND `+from+` = $5 AND `+last+` = $6 AND NOT `+arrived,
		next.From, next.Last, orderID, courierID, was.From, was.Last)
	if err != nil {
		return false, fmt.Errorf("postgres: record stay: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// StoreETA writes the estimate in one conditional UPDATE, as RecordStay.
func (s *Store) StoreETA(ctx context.Context, orderID delivery.ID, status delivery.Status, wasAt int64, eta delivery.ETA) (bool, error) {
	at, pickup, deliver, basis := sqlutil.ETAArgs(&eta)
	tag, err := s.pool.Exec(ctx, `UPDATE orders SET eta_at = $1, eta_pickup_at = $2, eta_deliver_at = $3, eta_basis = $4
		WHERE id = $5 AND status = $6 AND status IN `+sqlutil.ActiveStatuses+` AND COALESCE(eta_at, 0) = $7`,
		at, pickup, deliver, basis, orderID, status, wasAt)
	if err != nil {
		return false, fmt.Errorf("postgres: store eta: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
