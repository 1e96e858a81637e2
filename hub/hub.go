// Package hub delivers order events to websocket subscribers.
package hub

// Hub is replaced by the websocket hub (issue 3).
type Hub struct{}
