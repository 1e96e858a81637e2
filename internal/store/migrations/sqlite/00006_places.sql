-- Places, arrival and ETA (issue 13); see the PostgreSQL migration of the
-- same number. SQLite cannot add a table constraint to an existing table:
-- "both coordinates or neither" is the service's to hold (and
-- PostgreSQL's).

-- +goose Up
ALTER TABLE restaurants ADD COLUMN lat REAL CHECK (lat BETWEEN -90 AND 90);
ALTER TABLE restaurants ADD COLUMN lng REAL CHECK (lng BETWEEN -180 AND 180);
ALTER TABLE restaurants ADD COLUMN prep_minutes INTEGER NOT NULL DEFAULT 15 CHECK (prep_minutes BETWEEN 1 AND 240);

ALTER TABLE orders ADD COLUMN delivery_lat REAL CHECK (delivery_lat BETWEEN -90 AND 90);
ALTER TABLE orders ADD COLUMN delivery_lng REAL CHECK (delivery_lng BETWEEN -180 AND 180);
ALTER TABLE orders ADD COLUMN accepted_at TEXT;
ALTER TABLE orders ADD COLUMN pickup_from INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN pickup_last INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN pickup_arrived INTEGER NOT NULL DEFAULT 0 CHECK (pickup_arrived IN (0, 1));
ALTER TABLE orders ADD COLUMN dropoff_from INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN dropoff_last INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN dropoff_arrived INTEGER NOT NULL DEFAULT 0 CHECK (dropoff_arrived IN (0, 1));
ALTER TABLE orders ADD COLUMN eta_at INTEGER;
ALTER TABLE orders ADD COLUMN eta_pickup_at INTEGER;
ALTER TABLE orders ADD COLUMN eta_deliver_at INTEGER;
ALTER TABLE orders ADD COLUMN eta_basis TEXT;

-- Orders accepted before this migration: the time of their accept.
UPDATE orders SET accepted_at = (
    SELECT MIN(e.created_at) FROM order_events e
    WHERE e.order_id = orders.id AND e.type = 'order.status' AND json_extract(e.data, '$.status') = 'accepted')
WHERE status NOT IN ('placed', 'rejected');

-- +goose Down
ALTER TABLE orders DROP COLUMN eta_basis;
ALTER TABLE orders DROP COLUMN eta_deliver_at;
ALTER TABLE orders DROP COLUMN eta_pickup_at;
ALTER TABLE orders DROP COLUMN eta_at;
ALTER TABLE orders DROP COLUMN dropoff_arrived;
ALTER TABLE orders DROP COLUMN dropoff_last;
ALTER TABLE orders DROP COLUMN dropoff_from;
ALTER TABLE orders DROP COLUMN pickup_arrived;
ALTER TABLE orders DROP COLUMN pickup_last;
ALTER TABLE orders DROP COLUMN pickup_from;
ALTER TABLE orders DROP COLUMN accepted_at;
ALTER TABLE orders DROP COLUMN delivery_lng;
ALTER TABLE orders DROP COLUMN delivery_lat;
ALTER TABLE restaurants DROP COLUMN prep_minutes;
ALTER TABLE restaurants DROP COLUMN lng;
ALTER TABLE restaurants DROP COLUMN lat;
