-- Per-order chat and read marks (issue 5), and the time an order reached a
-- terminal status, from which its chat closes after an hour.
--
-- A chat message is a chat.message event of its order (order_events, same
-- seq); chat_messages holds the same message in columns, so that history
-- paging, idempotency by client_msg_id and unread counts are plain indexed
-- queries instead of JSON digging. Both rows are written in one transaction.

-- +goose Up
ALTER TABLE orders ADD COLUMN finished_at TEXT;
-- Orders that ended before this migration: their last order change was the
-- terminal one (chat messages did not exist yet).
UPDATE orders SET finished_at = updated_at WHERE status IN ('delivered', 'rejected', 'cancelled');

-- UNIQUE (order_id, client_msg_id) is what makes concurrent retries of one
-- message store it once, whatever the application did before the insert.
CREATE TABLE chat_messages (
    order_id      INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    author_id     INTEGER NOT NULL REFERENCES users (id),
    author_role   TEXT    NOT NULL CHECK (author_role IN ('customer', 'restaurant', 'courier', 'admin')),
    text          TEXT    NOT NULL,
    client_msg_id TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    PRIMARY KEY (order_id, seq),
    FOREIGN KEY (order_id, seq) REFERENCES order_events (order_id, seq) ON DELETE CASCADE,
    UNIQUE (order_id, client_msg_id)
);

-- The highest seq of the order's log that user has read; it never decreases.
CREATE TABLE chat_reads (
    order_id   INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    seq        INTEGER NOT NULL CHECK (seq > 0),
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (order_id, user_id)
);

-- +goose Down
DROP TABLE chat_reads;
DROP TABLE chat_messages;
ALTER TABLE orders DROP COLUMN finished_at;
