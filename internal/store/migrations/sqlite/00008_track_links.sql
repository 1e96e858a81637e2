-- Tracking links (issue 13); see the PostgreSQL migration of the same
-- number.

-- +goose Up
CREATE TABLE track_links (
    id         INTEGER PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at TEXT    NOT NULL
);
CREATE INDEX track_links_order_idx ON track_links (order_id);

-- +goose Down
DROP TABLE track_links;
