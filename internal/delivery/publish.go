package delivery

import "context"

// EventPublisher receives every committed order event, after its
// transaction committed, for live delivery to subscribers. The hub
// implements it. PublishEvent must not block on slow subscribers.
type EventPublisher interface {
	PublishEvent(ctx context.Context, o Order, ev Event)
}
