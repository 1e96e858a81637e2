package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlite"
	"github.com/ordercast/ordercast/internal/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) delivery.Store { return sqlite.OpenTest(t) })
}

func TestOutboxStore(t *testing.T) {
}

// TestOpen: Open creates the parent directory, and reopening an existing
// database keeps its rows and applies no migration twice.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dir", "ordercast.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, delivery.User{Email: "a@example.com", Name: "A", Role: delivery.RoleCustomer, PasswordHash: "h"}, delivery.Restaurant{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.UserByID(ctx, u.ID)
	if err != nil || got != u {
		t.Fatalf("after reopen: %+v, %v; want %+v", got, err, u)
	}
}

// TestOpenMemory: ":memory:" is a temporary file, removed on Close.
func TestOpenMemory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx := context.Background()
	s, err := sqlite.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, delivery.User{Email: "a@example.com", Name: "A", Role: delivery.RoleCustomer, PasswordHash: "h"}, delivery.Restaurant{}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 1 {
		t.Fatalf("TMPDIR holds %d entries while open, want 1", len(entries))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Fatalf("TMPDIR holds %v after Close, want nothing", entries)
	}
	if _, err := sqlite.Open(ctx, "file:x.db?mode=memory"); err == nil {
		t.Fatal("Open accepted a URI; want a plain path")
	}
}
