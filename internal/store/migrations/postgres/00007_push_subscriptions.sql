-- Web Push subscriptions (issue 13): a browser's PushSubscription, one row
-- per endpoint (an endpoint belongs to one user; registering it again
-- moves it). The user's role and restaurant are kept with it, so that the
-- subscriptions of a restaurant's staff, or of every courier, are one
-- indexed read when an event is pushed. Numbered 00008: 00006 and 00007
-- are taken by the other parts of issue 13.

-- +goose Up
CREATE TABLE push_subscriptions (
    endpoint      text        PRIMARY KEY,
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          text        NOT NULL,
    restaurant_id bigint      REFERENCES restaurants (id),
    p256dh        text        NOT NULL,
    auth          text        NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id, updated_at);
CREATE INDEX push_subscriptions_restaurant_idx ON push_subscriptions (restaurant_id) WHERE restaurant_id IS NOT NULL;
CREATE INDEX push_subscriptions_courier_idx ON push_subscriptions (updated_at) WHERE role = 'courier';

-- +goose Down
DROP TABLE push_subscriptions;
