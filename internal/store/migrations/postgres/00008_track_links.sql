-- Tracking links (issue 13): a token that shows one order's tracking view
-- to whoever holds it. Only the token's SHA-256 (hex) is kept, so that a
-- leaked database opens no order. A link is valid until deleted and until
-- an hour after its order ended (computed from orders.finished_at, not
-- stored); a deletion records the end of the link's session in
-- session_revocations, as a logout does.

-- +goose Up
CREATE TABLE track_links (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   bigint      NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    token_hash text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);
CREATE INDEX track_links_order_idx ON track_links (order_id);

-- +goose Down
DROP TABLE track_links;
