package accounts

import (
	"context"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

// CreateAdmin creates an admin account in store (ordercast admin create):
// the only way to one, since admins cannot register themselves. The
// email, name and password follow the rules of registration.
func CreateAdmin(ctx context.Context, store delivery.Store, email, name, password string) (delivery.User, error) {
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
	return store.CreateUser(ctx, delivery.User{Email: email, Name: name, Role: delivery.RoleAdmin, PasswordHash: hash}, delivery.Restaurant{})
}

// FindUser returns the account with email, for an admin (the operator
// page's search). The email is matched as registration stores it:
// lower-cased, so in any case.
func (s *Service) FindUser(ctx context.Context, a delivery.Actor, email string) (delivery.User, error) {
	if a.Role != delivery.RoleAdmin {
		return delivery.User{}, adminsOnly()
	}
	email, err := normalizeEmail(email)
	if err != nil {
		return delivery.User{}, err
	}
	return s.store.UserByEmail(ctx, email)
}

// RevokeUser ends every session of user id for an admin, as ordercast
// admin revoke does (delivery.Store.RevokeUserSessions), and announces
// them: their access tokens are refused and their sockets and streams
// closed with 4001 on every instance. It returns how many sessions ended.
func (s *Service) RevokeUser(ctx context.Context, a delivery.Actor, id delivery.ID) (int, error) {
	if a.Role != delivery.RoleAdmin {
		return 0, adminsOnly()
	}
	if _, err := s.store.UserByID(ctx, id); err != nil {
		return 0, err
	}
	sids, err := s.store.RevokeUserSessions(ctx, id, s.now())
	if err != nil {
		return 0, err
	}
	if s.revoker != nil && len(sids) > 0 {
		s.revoker.Announce(ctx, sids...)
	}
	return len(sids), nil
}

func adminsOnly() error { return delivery.Errorf(delivery.EFORBIDDEN, "admins only") }
