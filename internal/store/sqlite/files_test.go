package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", filepath.Base(path), got, want)
	}
}

// openAndWrite opens the store at path and commits a row, so that the
// -wal and -shm files exist while it is open; the caller closes it.
func openAndWrite(t *testing.T, path string, opt Options) *Store {
	t.Helper()
	s, err := OpenWith(context.Background(), path, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(context.Background(), delivery.User{Email: filepath.Base(t.TempDir()) + "@example.com", Name: "A", Role: delivery.RoleCustomer, PasswordHash: "h"}, delivery.Restaurant{}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFilesArePrivate: the database, its WAL and shared-memory files are
// 0600, in a folder created 0700, whatever the umask lets through.
func TestFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "ordercast.db")
	s := openAndWrite(t, path, Options{})
	defer s.Close()
	wantMode(t, dir, 0o700)
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		wantMode(t, f, 0o600)
	}
}

// TestOlderFilesAreTightened: a folder and files an older version left
// world-readable (0755, 0644) are made private when the store opens, the
// folder too since it holds nothing but the database and a private file.
func TestOlderFilesAreTightened(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "ordercast.db")
	s := openAndWrite(t, path, Options{})
	if err := s.Close(); err != nil { // checkpoints, and removes the WAL
		t.Fatal(err)
	}
	// As an older version left them after a crash: loose modes on the
	// database, its WAL and shared memory and the folder, and the JWT
	// secret beside.
	for _, f := range []string{path + "-wal", path + "-shm"} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "jwt_secret"), []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s = openAndWrite(t, path, Options{})
	defer s.Close()
	wantMode(t, dir, 0o700)
	for _, f := range []string{path, path + "-wal", path + "-shm", filepath.Join(dir, "jwt_secret")} {
		wantMode(t, f, 0o600)
	}
}

// TestSharedFolderIsLeftAlone: a folder that holds other people's files
// keeps its mode; the database's own files are private all the same.
func TestSharedFolderIsLeftAlone(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "oc.db")
	s := openAndWrite(t, path, Options{})
	defer s.Close()
	wantMode(t, dir, 0o755)
	wantMode(t, filepath.Join(dir, "notes.txt"), 0o644)
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		wantMode(t, f, 0o600)
	}
}

// TestSynchronous: commits are synced (FULL) unless NORMAL is asked for,
// on both pools; anything else is refused.
func TestSynchronous(t *testing.T) {
	for opt, want := range map[string]int{"": 2, "full": 2, "normal": 1} {
		s, err := OpenWith(context.Background(), filepath.Join(t.TempDir(), "oc.db"), Options{Synchronous: opt})
		if err != nil {
			t.Fatal(err)
		}
		for _, pool := range []*sql.DB{s.write, s.read} {
			var got int
			if err := pool.QueryRowContext(context.Background(), "PRAGMA synchronous").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("Synchronous %q: PRAGMA synchronous = %d, want %d", opt, got, want)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := OpenWith(context.Background(), filepath.Join(t.TempDir(), "oc.db"), Options{Synchronous: "off"}); err == nil {
		t.Error("Synchronous off accepted")
	}
}
