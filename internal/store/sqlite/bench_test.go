package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlite"
)

// BenchmarkLocationReads: the two reads behind every courier position
// (the service's ActiveOrdersOfCourier, the hub's OrderByID re-check),
// with a deadline on the context as the hub's calls have (the driver then
// starts a goroutine per query to interrupt it), among 200 couriers on an
// active order each.
//
//	go test ./internal/store/sqlite -run '^$' -bench LocationReads -benchmem
func BenchmarkLocationReads(b *testing.B) {
	s := sqlite.OpenTest(b)
	ctx := context.Background()
	user := func(email string, role delivery.Role, restaurant string) delivery.User {
		u, err := s.CreateUser(ctx, delivery.User{Email: email, Name: email, Role: role, PasswordHash: "h"}, restaurant)
		if err != nil {
			b.Fatal(err)
		}
		return u
	}
	staff := user("kitchen@example.com", delivery.RoleRestaurant, "Kitchen")
	item, err := s.CreateMenuItem(ctx, delivery.MenuItem{RestaurantID: staff.RestaurantID, Name: "Pizza", PriceCents: 1000, Available: true})
	if err != nil {
		b.Fatal(err)
	}
	const n = 200
	couriers, orders := make([]delivery.ID, n), make([]delivery.ID, n)
	for i := range n {
		cust := user(fmt.Sprintf("c%d@example.com", i), delivery.RoleCustomer, "")
		cour := user(fmt.Sprintf("k%d@example.com", i), delivery.RoleCourier, "")
		o, _, err := s.CreateOrder(ctx, delivery.Order{CustomerID: cust.ID, RestaurantID: staff.RestaurantID,
			Items:      []delivery.OrderItem{{MenuItemID: item.ID, Name: item.Name, Quantity: 1, PriceCents: item.PriceCents}},
			TotalCents: item.PriceCents, DeliveryAddress: "1 Main St"}, delivery.IdempotencyKey{})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.UpdateOrder(ctx, o.ID, func(o *delivery.Order) (delivery.Change, error) {
			o.Status, o.CourierID = delivery.StatusPickedUp, &cour.ID
			return delivery.Change{Type: delivery.EventOrderStatus}, nil
		}); err != nil {
			b.Fatal(err)
		}
		couriers[i], orders[i] = cour.ID, o.ID
	}
	b.Run("ActiveOrdersOfCourier", func(b *testing.B) {
		i := 0
		for b.Loop() {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			ids, err := s.ActiveOrdersOfCourier(ctx, couriers[i%n])
			cancel()
			if err != nil || len(ids) != 1 {
				b.Fatal(ids, err)
			}
			i++
		}
	})
	b.Run("OrderByID", func(b *testing.B) {
		i := 0
		for b.Loop() {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := s.OrderByID(ctx, orders[i%n])
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
