package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

// demoAccount is one of the accounts `ordercast demo` seeds. The
// passwords are printed and meant for trying the app out only.
type demoAccount struct {
	Role           delivery.Role
	Email          string
	Password       string
	Name           string
	RestaurantName string
}

var demoAccounts = []demoAccount{
	{Role: delivery.RoleRestaurant, Email: "luigi@example.com", Password: "demo-restaurant", Name: "Luigi", RestaurantName: "Luigi's Trattoria"},
	{Role: delivery.RoleCustomer, Email: "ann@example.com", Password: "demo-customer", Name: "Ann"},
	{Role: delivery.RoleCourier, Email: "bo@example.com", Password: "demo-courier", Name: "Bo"},
}

var demoMenu = []delivery.MenuItem{
	{Name: "Margherita", PriceCents: 1250, Available: true},
	{Name: "Quattro formaggi", PriceCents: 1450, Available: true},
	{Name: "Tiramisu", PriceCents: 650, Available: true},
	{Name: "Lemonade", PriceCents: 350, Available: true},
}

// seedDemo creates the demo accounts and the restaurant's menu on the
// store, once: accounts that exist already, and a menu that has items,
// are kept as they are.
func seedDemo(ctx context.Context, store delivery.Store) error {
	for _, a := range demoAccounts {
		u, err := store.UserByEmail(ctx, a.Email)
		if delivery.ErrorCode(err) == delivery.ENOTFOUND {
			hash, herr := auth.HashPassword(a.Password)
			if herr != nil {
				return herr
			}
			u, err = store.CreateUser(ctx, delivery.User{Email: a.Email, Name: a.Name, Role: a.Role, PasswordHash: hash}, delivery.Restaurant{Name: a.RestaurantName})
		}
		if err != nil {
			return fmt.Errorf("demo account %s: %w", a.Email, err)
		}
		if u.Role != a.Role {
			return fmt.Errorf("demo account %s exists with role %s, not %s", a.Email, u.Role, a.Role)
		}
		if a.Role == delivery.RoleRestaurant {
			if err := seedMenu(ctx, store, u.RestaurantID); err != nil {
				return err
			}
		}
	}
	return nil
}

func seedMenu(ctx context.Context, store delivery.Store, restaurantID delivery.ID) error {
	items, err := store.ListMenu(ctx, restaurantID, 0, 1)
	if err != nil || len(items) > 0 {
		return err
	}
	for _, item := range demoMenu {
		item.RestaurantID = restaurantID
		if _, err := store.CreateMenuItem(ctx, item); err != nil {
			return fmt.Errorf("demo menu: %w", err)
		}
	}
	return nil
}

// printDemo tells how to sign in as each demo account, with links that
// open the app's sign-in form with the email filled in.
func printDemo(w io.Writer, addr string) {
	base := "http://" + browsableAddr(addr)
	fmt.Fprintf(w, "\nordercast demo: open each link in its own browser tab (or window) and sign in:\n\n")
	for _, a := range demoAccounts {
		link := base + "/#/signin?email=" + url.QueryEscape(a.Email)
		fmt.Fprintf(w, "  %-10s  %s\n              email %s, password %s\n", a.Role, link, a.Email, a.Password)
	}
	fmt.Fprintf(w, "\nThen place an order as %s, accept it as %s, claim it as %s.\n\n",
		demoAccounts[1].Name, demoAccounts[0].RestaurantName, demoAccounts[2].Name)
}

// browsableAddr turns a listener's address into one a browser on this
// machine can open (":8080" and "0.0.0.0:8080" are localhost:8080).
func browsableAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
