-- The initial schema. Times are TEXT in the fixed-width UTC layout
-- 2006-01-02T15:04:05.000000Z (see sqlutil.TimeLayout), so that text order is
-- time order and every time round-trips with microsecond precision.
-- AUTOINCREMENT keeps ids from being reused after a delete: order ids are
-- paging cursors and event ids an outbox cursor.

-- +goose Up
CREATE TABLE restaurants (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);

-- email is stored lower-cased by the store, so UNIQUE is case-insensitive.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('customer', 'restaurant', 'courier', 'admin')),
    restaurant_id INTEGER REFERENCES restaurants (id),
    password_hash TEXT    NOT NULL,
    created_at    TEXT    NOT NULL
);

CREATE TABLE refresh_tokens (
    hash       TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  TEXT    NOT NULL,
    expires_at TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    used_at    TEXT,
    revoked_at TEXT
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE menu_items (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    restaurant_id INTEGER NOT NULL REFERENCES restaurants (id),
    name          TEXT    NOT NULL,
    price_cents   INTEGER NOT NULL CHECK (price_cents >= 0),
    available     INTEGER NOT NULL DEFAULT 1 CHECK (available IN (0, 1))
);
CREATE INDEX menu_items_restaurant_idx ON menu_items (restaurant_id, id);

-- items is a JSON array of delivery.OrderItem, priced when the order was placed.
CREATE TABLE orders (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    status           TEXT    NOT NULL CHECK (status IN ('placed', 'accepted', 'rejected', 'preparing', 'ready', 'picked_up', 'delivered', 'cancelled')),
    seq              INTEGER NOT NULL,
    customer_id      INTEGER NOT NULL REFERENCES users (id),
    restaurant_id    INTEGER NOT NULL REFERENCES restaurants (id),
    courier_id       INTEGER REFERENCES users (id),
    items            TEXT    NOT NULL,
    total_cents      INTEGER NOT NULL,
    delivery_address TEXT    NOT NULL,
    notes            TEXT    NOT NULL DEFAULT '',
    reason           TEXT    NOT NULL DEFAULT '',
    idempotency_key  TEXT,
    request_hash     TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
);
CREATE UNIQUE INDEX orders_idempotency_idx ON orders (customer_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Listings page newest first by id within one visibility field.
CREATE INDEX orders_customer_idx ON orders (customer_id, id DESC);
CREATE INDEX orders_restaurant_idx ON orders (restaurant_id, id DESC);
CREATE INDEX orders_courier_idx ON orders (courier_id, id DESC) WHERE courier_id IS NOT NULL;
-- The predicate must stay the same as in ListOrders and delivery.IsOffered.
CREATE INDEX orders_offered_idx ON orders (id DESC)
    WHERE courier_id IS NULL AND status IN ('accepted', 'preparing', 'ready');
CREATE INDEX orders_status_idx ON orders (status, id DESC);

-- The event log of each order, seq 1, 2, 3, … per order. id numbers all
-- events in insert order, for relaying the table as a transactional outbox;
-- SQLite allows AUTOINCREMENT only on the primary key, so (order_id, seq),
-- the primary key in PostgreSQL, is UNIQUE here.
CREATE TABLE order_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id   INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    UNIQUE (order_id, seq)
);

-- +goose Down
DROP TABLE order_events;
DROP TABLE orders;
DROP TABLE menu_items;
DROP TABLE refresh_tokens;
DROP TABLE users;
DROP TABLE restaurants;
