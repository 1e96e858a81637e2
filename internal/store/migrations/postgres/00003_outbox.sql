-- The event log doubles as a transactional outbox (issue 4): an event is
-- written unpublished in its commit's transaction; the instance that
-- committed it marks it published once the bus took it, and any live
-- instance relays the events still unpublished after a grace period, so
-- that an instance dying between commit and publish loses nothing.
-- Relays select by this flag, never by "id > last seen": identity values
-- become visible out of commit order.

-- +goose Up
-- Events already in the log count as published: only rows inserted from
-- now on start unpublished. Adding the column with DEFAULT true and then
-- changing the default rewrites no row.
ALTER TABLE order_events ADD COLUMN published boolean NOT NULL DEFAULT true;
ALTER TABLE order_events ALTER COLUMN published SET DEFAULT false;
-- Holds only the few events in flight, so relays poll it cheaply.
CREATE INDEX order_events_unpublished_idx ON order_events (id) WHERE NOT published;

-- +goose Down
DROP INDEX order_events_unpublished_idx;
ALTER TABLE order_events DROP COLUMN published;
