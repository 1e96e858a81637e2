package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/orders"
	"github.com/ordercast/ordercast/internal/store/sqlite"
	"github.com/ordercast/ordercast/internal/store/storetest"
)

// BenchmarkPlaceOrder: what synchronous=FULL (the default) costs an order
// placement against NORMAL: the service's whole Place (the restaurant and
// its items read, then the insert of the order and its event in one
// transaction, whose commit FULL syncs to disk), one customer after
// another and 4 × GOMAXPROCS at once. The database is a file in the test's
// temporary folder: run it where the data folder lives (TMPDIR).
//
//	go test ./internal/store/sqlite -run '^$' -bench PlaceOrder -benchtime 2000x
func BenchmarkPlaceOrder(b *testing.B) {
	for _, sync := range []string{"full", "normal"} {
		b.Run("synchronous="+sync, func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlite.OpenWith(ctx, filepath.Join(b.TempDir(), "oc.db"), sqlite.Options{Synchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			staff, err := s.CreateUser(ctx, delivery.User{Email: "kitchen@example.com", Name: "K", Role: delivery.RoleRestaurant, PasswordHash: "h"}, delivery.Restaurant{Name: "Kitchen"})
			if err != nil {
				b.Fatal(err)
			}
			item, err := s.CreateMenuItem(ctx, delivery.MenuItem{RestaurantID: staff.RestaurantID, Name: "Pizza", PriceCents: 1000, Available: true})
			if err != nil {
				b.Fatal(err)
			}
			cust, err := s.CreateUser(ctx, delivery.User{Email: "c@example.com", Name: "C", Role: delivery.RoleCustomer, PasswordHash: "h"}, delivery.Restaurant{})
			if err != nil {
				b.Fatal(err)
			}
			svc := orders.New(orders.Config{Store: s})
			req := orders.PlaceRequest{RestaurantID: staff.RestaurantID, Items: []orders.ItemInput{{MenuItemID: item.ID, Quantity: 1}}, DeliveryAddress: "1 Main St"}
			var n atomic.Int64
			place := func() error {
				_, _, err := svc.Place(ctx, cust.Actor(), req, fmt.Sprintf("key-%d", n.Add(1)))
				return err
			}
			b.Run("serial", func(b *testing.B) {
				for b.Loop() {
					if err := place(); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.SetParallelism(4) // 4 × GOMAXPROCS customers at once
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := place(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

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
		u, err := s.CreateUser(ctx, delivery.User{Email: email, Name: email, Role: role, PasswordHash: "h"}, delivery.Restaurant{Name: restaurant})
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

// BenchmarkDurableAppend: durable appends (storetest.BenchDurableAppend)
// with synchronous=FULL, the default, each answered after its commit.
//
//	go test ./internal/store/sqlite -run '^$' -bench DurableAppend -benchtime 20000x
func BenchmarkDurableAppend(b *testing.B) {
	storetest.BenchDurableAppend(b, sqlite.OpenTest(b))
}
