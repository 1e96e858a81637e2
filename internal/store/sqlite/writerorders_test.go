package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// orderFixture opens a store on path with one order and returns both.
func orderFixture(t *testing.T, path string) (*Store, delivery.Order) {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	staff, err := s.CreateUser(ctx, delivery.User{Email: "pizza@example.com", Name: "Pizza", Role: delivery.RoleRestaurant, PasswordHash: "h"}, delivery.Restaurant{Name: "Pizza"})
	if err != nil {
		t.Fatal(err)
	}
	customer, err := newUser(ctx, s, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := s.CreateOrder(ctx, delivery.Order{
		CustomerID: customer.ID, RestaurantID: staff.RestaurantID, TotalCents: 1200, DeliveryAddress: "Main Street 1",
		Items: []delivery.OrderItem{{MenuItemID: 1, Name: "Margherita", Quantity: 2, PriceCents: 600}},
	}, delivery.IdempotencyKey{})
	if err != nil {
		t.Fatal(err)
	}
	return s, o
}

// setNotes is an UpdateOrder that sets the order's notes.
func setNotes(t *testing.T, s *Store, id delivery.ID, notes string) delivery.Order {
	t.Helper()
	o, _, err := s.UpdateOrder(t.Context(), id, func(o *delivery.Order) (delivery.Change, error) {
		o.Notes = notes
		return delivery.Change{Type: "test.notes"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// writeBehind changes the order's notes in the database in a request
// that keeps orders but does not tell the writer: what the writer's copy
// of the order holds shows in the next UpdateOrder.
func writeBehind(t *testing.T, s *Store, id delivery.ID, notes string) {
	t.Helper()
	err := s.inOrderTx(t.Context(), func(ctx context.Context, tx *wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE orders SET notes = ? WHERE id = ?`, notes, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestWriterOrdersKept: UpdateOrder starts from the order as the writer
// wrote it, not from the row read back (the write behind its back is not
// seen, which no write method does), also after writes of users and menus,
// which change no order.
func TestWriterOrdersKept(t *testing.T) {
	s, o := orderFixture(t, filepath.Join(t.TempDir(), "o.db"))
	ctx := t.Context()
	setNotes(t, s, o.ID, "first")
	writeBehind(t, s, o.ID, "behind")
	if _, err := s.CreateUser(ctx, delivery.User{Email: "bob@example.com", Name: "Bob", Role: delivery.RoleRestaurant, PasswordHash: "h"}, delivery.Restaurant{Name: "Sushi"}); err != nil {
		t.Fatal(err)
	}
	item, err := s.CreateMenuItem(ctx, delivery.MenuItem{RestaurantID: o.RestaurantID, Name: "Cola", PriceCents: 200, Available: true})
	if err != nil {
		t.Fatal(err)
	}
	price := int64(250)
	if _, err := s.UpdateMenuItem(ctx, o.RestaurantID, item.ID, delivery.MenuItemPatch{PriceCents: &price}); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.UpdateOrder(t.Context(), o.ID, func(*delivery.Order) (delivery.Change, error) {
		return delivery.Change{Type: "test.event", Data: []byte(`{}`)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Notes != "first" {
		t.Fatalf("notes %q, want %q: the writer's copy", got.Notes, "first")
	}
}

// TestWriterOrdersMatchTheRow: through every write method that changes
// an order or its restaurant, UpdateOrder answers the order as reading
// its row back would.
func TestWriterOrdersMatchTheRow(t *testing.T) {
	s, o := orderFixture(t, filepath.Join(t.TempDir(), "o.db"))
	ctx := t.Context()
	courier, err := s.CreateUser(ctx, delivery.User{Email: "carl@example.com", Name: "Carl", Role: delivery.RoleCourier, PasswordHash: "h"}, delivery.Restaurant{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string, got delivery.Order) {
		t.Helper()
		want, err := s.OrderByID(ctx, got.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after %s: UpdateOrder answered\n%+v\nthe row reads\n%+v", step, got, want)
		}
	}
	next := func(step string, mutate func(*delivery.Order)) {
		t.Helper()
		got, _, err := s.UpdateOrder(ctx, o.ID, func(o *delivery.Order) (delivery.Change, error) {
			mutate(o)
			return delivery.Change{Type: "test.step"}, nil
		})
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		check(step, got)
	}
	check("create", o)
	// What the store sets, the writer keeps only as it wrote it.
	at := o.CreatedAt.Add(time.Hour)
	forged := o
	forged.ID, forged.FinishedAt, forged.AssignedAt, forged.AcceptedAt = 0, &at, &at, &at
	forged.ETA = &delivery.ETA{DeliverAt: 1, Basis: "forged", At: 1}
	forged.RestaurantPlace = &delivery.Place{Lat: 1, Lng: 2}
	forged.PickupStay, forged.DropoffStay = delivery.Stay{From: 1, Last: 2, Arrived: true}, delivery.Stay{From: 3}
	f, _, err := s.CreateOrder(ctx, forged, delivery.IdempotencyKey{})
	if err != nil {
		t.Fatal(err)
	}
	check("create with the store's fields set", f)
	f, _, err = s.UpdateOrder(ctx, f.ID, func(o *delivery.Order) (delivery.Change, error) {
		o.Status = delivery.StatusAccepted
		return delivery.Change{Type: "test.step"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check("update of the order created with the store's fields set", f)
	next("accept", func(o *delivery.Order) { o.Status = delivery.StatusAccepted })
	next("assign", func(o *delivery.Order) { o.CourierID = &courier.ID })
	if ok, err := s.StoreETA(ctx, o.ID, delivery.StatusAccepted, 0, delivery.ETA{At: 1_900_000_000_000, Basis: "test"}); err != nil || !ok {
		t.Fatalf("StoreETA: %v, %v", ok, err)
	}
	next("eta", func(*delivery.Order) {})
	if ok, err := s.RecordStay(ctx, o.ID, courier.ID, delivery.AtPickup, delivery.Stay{}, delivery.Stay{From: 1, Last: 2}); err != nil || !ok {
		t.Fatalf("RecordStay: %v, %v", ok, err)
	}
	next("stay", func(*delivery.Order) {})
	if _, err := s.AppendMessage(ctx, delivery.Message{OrderID: o.ID, AuthorID: o.CustomerID, AuthorRole: delivery.RoleCustomer, Text: "hi", ClientMsgID: "m1"},
		func(delivery.Order) error { return nil }); err != nil {
		t.Fatal(err)
	}
	next("chat", func(*delivery.Order) {})
	name := "Pizza Nova"
	if _, err := s.UpdateRestaurant(ctx, o.RestaurantID, delivery.RestaurantPatch{Name: &name, Place: &delivery.Place{Lat: 52.5, Lng: 13.4}}); err != nil {
		t.Fatal(err)
	}
	next("restaurant", func(*delivery.Order) {})
	next("items", func(o *delivery.Order) {
		o.Items = append(o.Items, delivery.OrderItem{MenuItemID: 2, Name: "Cola", Quantity: 1, PriceCents: 200})
	})
	next("delivered", func(o *delivery.Order) { o.Status = delivery.StatusDelivered })
}

// TestWriterOrdersForgotten: the writer reads the row back after a write
// it was not told of: a request of inTx, a request rolled back to its
// savepoint, a commit of another connection.
func TestWriterOrdersForgotten(t *testing.T) {
	t.Run("inTx", func(t *testing.T) {
		s, o := orderFixture(t, filepath.Join(t.TempDir(), "o.db"))
		setNotes(t, s, o.ID, "first")
		err := s.inTx(t.Context(), func(ctx context.Context, tx *wtx) error {
			_, err := tx.ExecContext(ctx, `UPDATE orders SET notes = 'other' WHERE id = ?`, o.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := readNotesThenEvent(t, s, o.ID); got != "other" {
			t.Fatalf("notes %q, want the inTx request's", got)
		}
	})
	t.Run("rolled back", func(t *testing.T) {
		s, o := orderFixture(t, filepath.Join(t.TempDir(), "o.db"))
		setNotes(t, s, o.ID, "first")
		failed := errors.New("refused")
		err := s.inOrderTx(t.Context(), func(ctx context.Context, tx *wtx) error {
			old, err := tx.order(ctx, o.ID)
			if err != nil {
				return err
			}
			old.Notes = "rolled back"
			tx.putOrder(old)
			return failed
		})
		if !errors.Is(err, failed) {
			t.Fatalf("err %v, want %v", err, failed)
		}
		if got := readNotesThenEvent(t, s, o.ID); got != "first" {
			t.Fatalf("notes %q, want %q: the rolled back request's order was kept", got, "first")
		}
	})
	t.Run("another connection", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "o.db")
		s, o := orderFixture(t, path)
		setNotes(t, s, o.ID, "first")
		seeOtherConnection(t, s, path, o.ID)
	})
}

// readNotesThenEvent appends an event that changes nothing and returns
// the notes the order had for UpdateOrder.
func readNotesThenEvent(t *testing.T, s *Store, id delivery.ID) string {
	t.Helper()
	o, _, err := s.UpdateOrder(t.Context(), id, func(*delivery.Order) (delivery.Change, error) {
		return delivery.Change{Type: "test.event", Data: []byte(`{}`)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return o.Notes
}

// TestWriterOrdersForgottenOnNewConnection: a commit of another
// connection while the write pool replaced its connection (as
// database/sql does with one the driver marked bad, say after an
// interrupted statement) is seen, though the new connection's
// data_version starts where the old one's was.
func TestWriterOrdersForgottenOnNewConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	s, o := orderFixture(t, path)
	setNotes(t, s, o.ID, "first")
	// The writer holds its connection only during a transaction: between
	// two, the test can take it and have the pool discard it.
	c, err := s.write.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Raw(func(any) error { return driver.ErrBadConn }); !errors.Is(err, driver.ErrBadConn) {
		t.Fatalf("raw: %v", err)
	}
	_ = c.Close()
	seeOtherConnection(t, s, path, o.ID)
}

// seeOtherConnection changes o's notes through a connection of its own
// to the file at path and checks that s reads them: s's writer must not
// start from its copy of the order.
func seeOtherConnection(t *testing.T, s *Store, path string, id delivery.ID) {
	t.Helper()
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(t.Context(), `UPDATE orders SET notes = 'from elsewhere' WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	if got := readNotesThenEvent(t, s, id); got != "from elsewhere" {
		t.Fatalf("notes %q, want the other connection's", got)
	}
}
