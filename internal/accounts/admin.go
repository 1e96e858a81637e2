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
