package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/sessions"
)

// startSessions loads the list of ended sessions from store and makes
// tokens refuse theirs; startRealtime connects it to the bus and the hub.
// Close it after the bus.
func startSessions(ctx context.Context, store delivery.Store, tokens *auth.Tokens, log zerolog.Logger) (*sessions.List, error) {
	ended := sessions.New(store, sessions.Options{Log: log})
	if err := ended.Start(ctx); err != nil {
		return nil, err
	}
	tokens.SetRevocations(ended.Revoked)
	return ended, nil
}
