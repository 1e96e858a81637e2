-- Places, arrival and ETA (issue 13). A restaurant has a place and a
-- preparation estimate; an order may have a drop-off place. The order also
-- keeps what arrival detection and the ETA decide from, so that every
-- instance decides alike: when it was accepted, the assigned courier's
-- stay near each place (position ts in milliseconds: the first of the
-- current run within reach, the last applied, and whether courier.arrived
-- was appended), and the latest estimate with when it was made (eta_at,
-- ms; NULL: none).

-- +goose Up
ALTER TABLE restaurants
    ADD COLUMN lat double precision CHECK (lat BETWEEN -90 AND 90),
    ADD COLUMN lng double precision CHECK (lng BETWEEN -180 AND 180),
    ADD COLUMN prep_minutes integer NOT NULL DEFAULT 15 CHECK (prep_minutes BETWEEN 1 AND 240),
    ADD CONSTRAINT restaurants_place_check CHECK ((lat IS NULL) = (lng IS NULL));

ALTER TABLE orders
    ADD COLUMN delivery_lat double precision CHECK (delivery_lat BETWEEN -90 AND 90),
    ADD COLUMN delivery_lng double precision CHECK (delivery_lng BETWEEN -180 AND 180),
    ADD COLUMN accepted_at timestamptz,
    ADD COLUMN pickup_from bigint NOT NULL DEFAULT 0,
    ADD COLUMN pickup_last bigint NOT NULL DEFAULT 0,
    ADD COLUMN pickup_arrived boolean NOT NULL DEFAULT false,
    ADD COLUMN dropoff_from bigint NOT NULL DEFAULT 0,
    ADD COLUMN dropoff_last bigint NOT NULL DEFAULT 0,
    ADD COLUMN dropoff_arrived boolean NOT NULL DEFAULT false,
    ADD COLUMN eta_at bigint,
    ADD COLUMN eta_pickup_at bigint,
    ADD COLUMN eta_deliver_at bigint,
    ADD COLUMN eta_basis text,
    ADD CONSTRAINT orders_delivery_place_check CHECK ((delivery_lat IS NULL) = (delivery_lng IS NULL));

-- Orders accepted before this migration: the time of their accept.
UPDATE orders SET accepted_at = (
    SELECT MIN(e.created_at) FROM order_events e
    WHERE e.order_id = orders.id AND e.type = 'order.status' AND e.data->>'status' = 'accepted')
WHERE status NOT IN ('placed', 'rejected');

-- +goose Down
ALTER TABLE orders
    DROP CONSTRAINT orders_delivery_place_check,
    DROP COLUMN eta_basis,
    DROP COLUMN eta_deliver_at,
    DROP COLUMN eta_pickup_at,
    DROP COLUMN eta_at,
    DROP COLUMN dropoff_arrived,
    DROP COLUMN dropoff_last,
    DROP COLUMN dropoff_from,
    DROP COLUMN pickup_arrived,
    DROP COLUMN pickup_last,
    DROP COLUMN pickup_from,
    DROP COLUMN accepted_at,
    DROP COLUMN delivery_lng,
    DROP COLUMN delivery_lat;
ALTER TABLE restaurants
    DROP CONSTRAINT restaurants_place_check,
    DROP COLUMN prep_minutes,
    DROP COLUMN lng,
    DROP COLUMN lat;
