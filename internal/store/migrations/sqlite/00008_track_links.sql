-- Tracking links (issue 13); see the PostgreSQL migration of the same
-- number.

-- +goose Up
CREATE TABLE track_links (
    -- AUTOINCREMENT: an id is never given again, since a deleted link's
    -- id names its ended session (link:<id>) for an hour and more.
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id   INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at TEXT    NOT NULL
);
CREATE INDEX track_links_order_idx ON track_links (order_id);

-- +goose Down
DROP TABLE track_links;
