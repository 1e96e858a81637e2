package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// OpenTest opens a migrated store on a fresh file in t's temporary
// directory and closes it when the test ends. For tests of other packages.
func OpenTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "ordercast.db"))
	if err != nil {
		t.Fatalf("sqlite.OpenTest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sqlite.OpenTest: close: %v", err)
		}
	})
	return s
}
