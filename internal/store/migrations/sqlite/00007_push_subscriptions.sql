-- Web Push subscriptions (issue 13); see the PostgreSQL migration of the
-- same number.

-- +goose Up
CREATE TABLE push_subscriptions (
    endpoint      TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT    NOT NULL,
    restaurant_id INTEGER REFERENCES restaurants (id),
    p256dh        TEXT    NOT NULL,
    auth          TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id, updated_at);
CREATE INDEX push_subscriptions_restaurant_idx ON push_subscriptions (restaurant_id) WHERE restaurant_id IS NOT NULL;
CREATE INDEX push_subscriptions_courier_idx ON push_subscriptions (updated_at) WHERE role = 'courier';

-- +goose Down
DROP TABLE push_subscriptions;
