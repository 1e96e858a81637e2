package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
)

// menuSpy records the menu reads of the store under it.
type menuSpy struct {
	app.Store
	mu     sync.Mutex
	listed int             // ListMenu calls
	byID   [][]delivery.ID // MenuItemsByID calls
}

func (s *menuSpy) ListMenu(ctx context.Context, rid, after delivery.ID, limit int) ([]delivery.MenuItem, error) {
	s.mu.Lock()
	s.listed++
	s.mu.Unlock()
	return s.Store.ListMenu(ctx, rid, after, limit)
}

func (s *menuSpy) MenuItemsByID(ctx context.Context, rid delivery.ID, ids []delivery.ID) ([]delivery.MenuItem, error) {
	s.mu.Lock()
	s.byID = append(s.byID, slices.Clone(ids))
	s.mu.Unlock()
	return s.Store.MenuItemsByID(ctx, rid, ids)
}

type menuPage struct {
	Items      []delivery.MenuItem `json:"items"`
	NextCursor string              `json:"next_cursor"`
}

// TestMenuPagedAndCapped: GET /restaurants/{id}/menu pages with limit and
// cursor (the whole menu by default, at most 500 items); a restaurant
// holds at most 500 items (422 beyond); placing an order reads only the
// items ordered, not the menu.
func TestMenuPagedAndCapped(t *testing.T) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			spy := &menuSpy{Store: open(t)}
			e := newTestEnvOn(t, spy)
			w := e.newWorld() // two items
			path := menuPath(w.Restaurant.User.RestaurantID)
			var third delivery.MenuItem
			e.must(201, "POST", path, w.Restaurant.Token, map[string]any{"name": "Tiramisu", "price_cents": 600}).decode(t, &third)
			all := append(slices.Clone(w.Items), third)

			var page menuPage
			e.must(200, "GET", path, "", nil).decode(t, &page)
			if fmt.Sprint(page.Items) != fmt.Sprint(all) || page.NextCursor != "" {
				t.Fatalf("whole menu: %+v, want %v and no cursor", page, all)
			}
			var got []delivery.MenuItem
			for cursor, pages := "", 0; ; pages++ {
				if pages > 3 {
					t.Fatal("the cursor does not advance")
				}
				var p menuPage
				e.must(200, "GET", path+"?limit=2&cursor="+cursor, "", nil).decode(t, &p)
				if len(p.Items) > 2 {
					t.Fatalf("a page of %d items with limit 2", len(p.Items))
				}
				got = append(got, p.Items...)
				if cursor = p.NextCursor; cursor == "" {
					break
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(all) {
				t.Fatalf("paged by 2: %v, want %v", got, all)
			}
			for _, q := range []string{"?limit=501", "?limit=-1", "?limit=x", "?cursor=abc", "?cursor=-5"} {
				if r := e.do("GET", path+q, "", nil); r.Status != 400 || r.errorCode(t) != "invalid" {
					t.Errorf("GET menu%s: %d %s, want 400", q, r.Status, r.Body)
				}
			}

			// Placing reads the two lines' items, nothing else.
			spy.mu.Lock()
			spy.listed, spy.byID = 0, nil
			spy.mu.Unlock()
			o := e.place(w)
			spy.mu.Lock()
			listed, byID := spy.listed, spy.byID
			spy.mu.Unlock()
			if listed != 0 || len(byID) != 1 || fmt.Sprint(byID[0]) != fmt.Sprint([]delivery.ID{w.Items[0].ID, w.Items[1].ID}) {
				t.Errorf("placing read the menu %d times and items %v, want only items [%s %s]", listed, byID, w.Items[0].ID, w.Items[1].ID)
			}
			if o.TotalCents != w.Items[0].PriceCents+2*w.Items[1].PriceCents {
				t.Errorf("total %d", o.TotalCents)
			}

			// The cap: 500 items, then 422 and nothing added.
			for i := len(all); i < delivery.MaxMenuItems; i++ {
				if _, err := e.Store.CreateMenuItem(t.Context(), delivery.MenuItem{RestaurantID: w.Restaurant.User.RestaurantID, Name: fmt.Sprintf("Dish %d", i), PriceCents: 100, Available: true}); err != nil {
					t.Fatal(err)
				}
			}
			if r := e.do("POST", path, w.Restaurant.Token, map[string]any{"name": "One too many", "price_cents": 100}); r.Status != 422 || r.errorCode(t) != "unprocessable" {
				t.Fatalf("item 501: %d %s, want 422 unprocessable", r.Status, r.Body)
			}
			e.must(http.StatusOK, "GET", path, "", nil).decode(t, &page)
			if len(page.Items) != delivery.MaxMenuItems || page.NextCursor == "" {
				t.Fatalf("full menu: %d items, cursor %q; want 500 and a cursor (to an empty page)", len(page.Items), page.NextCursor)
			}
			e.must(http.StatusOK, "GET", path+"?cursor="+page.NextCursor, "", nil).decode(t, &page)
			if len(page.Items) != 0 || page.NextCursor != "" {
				t.Fatalf("after the full menu: %+v, want an empty last page", page)
			}
		})
	}
}
