-- When the courier of an order was assigned (issue 9): the order's parties
-- get only positions the courier took after it, never one sent from home
-- or during an earlier assignment.

-- +goose Up
ALTER TABLE orders ADD COLUMN assigned_at timestamptz;
-- Orders holding a courier: the time of their last order.assigned event
-- (nothing unassigned a courier before this migration).
UPDATE orders SET assigned_at = COALESCE(
    (SELECT MAX(e.created_at) FROM order_events e WHERE e.order_id = orders.id AND e.type = 'order.assigned'),
    updated_at)
WHERE courier_id IS NOT NULL;

-- +goose Down
ALTER TABLE orders DROP COLUMN assigned_at;
