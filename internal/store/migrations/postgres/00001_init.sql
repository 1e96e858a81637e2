-- The initial schema. Times are timestamptz (microsecond precision); the
-- store truncates to microseconds before writing so that nothing is rounded.

-- +goose Up
CREATE TABLE restaurants (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL
);

-- email is stored lower-cased by the store, so UNIQUE is case-insensitive.
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text        NOT NULL UNIQUE,
    name          text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('customer', 'restaurant', 'courier', 'admin')),
    restaurant_id bigint      REFERENCES restaurants (id),
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE refresh_tokens (
    hash       text        PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  text        NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE menu_items (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    restaurant_id bigint  NOT NULL REFERENCES restaurants (id),
    name          text    NOT NULL,
    price_cents   bigint  NOT NULL CHECK (price_cents >= 0),
    available     boolean NOT NULL DEFAULT true
);
CREATE INDEX menu_items_restaurant_idx ON menu_items (restaurant_id, id);

-- items is a JSON array of delivery.OrderItem, priced when the order was placed.
CREATE TABLE orders (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status           text        NOT NULL CHECK (status IN ('placed', 'accepted', 'rejected', 'preparing', 'ready', 'picked_up', 'delivered', 'cancelled')),
    seq              bigint      NOT NULL,
    customer_id      bigint      NOT NULL REFERENCES users (id),
    restaurant_id    bigint      NOT NULL REFERENCES restaurants (id),
    courier_id       bigint      REFERENCES users (id),
    items            jsonb       NOT NULL,
    total_cents      bigint      NOT NULL,
    delivery_address text        NOT NULL,
    notes            text        NOT NULL DEFAULT '',
    reason           text        NOT NULL DEFAULT '',
    idempotency_key  text,
    request_hash     text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
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
-- events in insert order, for relaying the table as a transactional outbox
-- (identity values are assigned at insert, not at commit, so a relay must not
-- assume that ids become visible in order). data is json, not jsonb, so that
-- the payload comes back byte for byte as written, as in SQLite.
CREATE TABLE order_events (
    id         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    order_id   bigint      NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    seq        bigint      NOT NULL,
    type       text        NOT NULL,
    data       json        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (order_id, seq)
);

-- +goose Down
DROP TABLE order_events;
DROP TABLE orders;
DROP TABLE menu_items;
DROP TABLE refresh_tokens;
DROP TABLE users;
DROP TABLE restaurants;
