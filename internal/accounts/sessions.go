package accounts

import "context"

// Revoker is told of the sessions the store just ended (logout, a reused
// refresh token), so that their access tokens are refused and their
// sockets closed at once, on every instance: internal/sessions.
// Announce must not fail the caller: the store holds the revocation,
// which every instance also reads periodically.
type Revoker interface {
	Announce(ctx context.Context, sids ...string)
}

func (s *Service) announce(ctx context.Context, sid string) {
	if s.revoker != nil && sid != "" {
		s.revoker.Announce(ctx, sid)
	}
}
