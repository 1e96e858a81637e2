-- The event log doubles as a transactional outbox (issue 4); see the
-- PostgreSQL migration of the same number for the protocol.

-- +goose Up
ALTER TABLE order_events ADD COLUMN published INTEGER NOT NULL DEFAULT 0;
-- Events already in the log count as published.
UPDATE order_events SET published = 1;
CREATE INDEX order_events_unpublished_idx ON order_events (id) WHERE published = 0;

-- +goose Down
DROP INDEX order_events_unpublished_idx;
ALTER TABLE order_events DROP COLUMN published;
