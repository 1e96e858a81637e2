package accounts

import (
	"context"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

// Revoker is told of the sessions the store just ended (logout, a reused
// refresh token), so that their access tokens are refused and their
// sockets closed at once, on every instance: internal/sessions.
// Announce must not fail the caller: the store holds the revocation,
// which every instance also reads periodically.
type Revoker interface {
	Announce(ctx context.Context, sids ...string)
}

// SetRevoker sets the revoker; call it before the service is used.
// Without one, ended sessions are only in the store.
func (s *Service) SetRevoker(r Revoker) { s.revoker = r }

func (s *Service) announce(ctx context.Context, sid string) {
	if s.revoker != nil && sid != "" {
		s.revoker.Announce(ctx, sid)
	}
}

// CreateAdmin creates an admin account (ordercast admin create): the
// only way to one, since admins cannot register themselves. The email,
// name and password follow the rules of registration.
func (s *Service) CreateAdmin(ctx context.Context, email, name, password string) (delivery.User, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return delivery.User{}, err
	}
	if err := checkPassword(password); err != nil {
		return delivery.User{}, err
	}
	if name, err = delivery.CheckText("name", name, nameRule); err != nil {
		return delivery.User{}, err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return delivery.User{}, err
	}
	return s.store.CreateUser(ctx, delivery.User{Email: email, Name: name, Role: delivery.RoleAdmin, PasswordHash: hash}, "")
}
