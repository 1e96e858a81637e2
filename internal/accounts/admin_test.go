package accounts_test

import (
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/accounts"
	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

// CreateAdmin makes the one kind of account registration refuses, on the
// rules of registration; the admin signs in like anyone, with a token of
// role admin.
func TestCreateAdmin(t *testing.T) {
	e := newEnv(t)
	u, err := accounts.CreateAdmin(t.Context(), e.store, " Ops@Example.COM ", "  Operator ", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID <= 0 || u.Role != delivery.RoleAdmin || u.Email != "ops@example.com" || u.Name != "Operator" || u.RestaurantID != 0 {
		t.Fatalf("admin = %+v", u)
	}
	s, err := e.svc.Login(t.Context(), "OPS@example.com", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.tokens.Verify(s.AccessToken)
	if err != nil || c.UserID != u.ID || c.Role != delivery.RoleAdmin {
		t.Fatalf("admin's claims = %+v, %v", c, err)
	}
	_, err = accounts.CreateAdmin(t.Context(), e.store, "ops@example.com", "Twin", testPassword)
	wantError(t, "a second admin of that email", err, delivery.EEMAILTAKEN, "")
}

func TestCreateAdminRejects(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ name, email, adminName, password, field string }{
		{"not an email", "ops", "Operator", testPassword, "email"},
		{"no email", "", "Operator", testPassword, "email"},
		{"short password", "ops@example.com", "Operator", "seven c", "password"},
		{"password over 72 bytes", "ops@example.com", "Operator", strings.Repeat("p", auth.MaxPasswordLen+1), "password"},
		{"no name", "ops@example.com", " ", testPassword, "name"},
		{"name too long", "ops@example.com", strings.Repeat("n", accounts.MaxNameLen+1), testPassword, "name"},
	} {
		_, err := accounts.CreateAdmin(t.Context(), e.store, tc.email, tc.adminName, tc.password)
		wantError(t, tc.name, err, delivery.EINVALID, tc.field)
	}
	if _, err := e.store.UserByEmail(t.Context(), "ops@example.com"); delivery.ErrorCode(err) != delivery.ENOTFOUND {
		t.Errorf("a refused admin was stored: %v", err)
	}
}
