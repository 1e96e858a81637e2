package auth_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/ordercast/ordercast/internal/auth"
)

func TestSecretGeneratedOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "keys") // does not exist yet
	first, err := auth.LoadOrCreateSecret("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < auth.MinSecretLen {
		t.Fatalf("secret has %d bytes", len(first))
	}
	second, err := auth.LoadOrCreateSecret("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("second call returned a different secret")
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, "jwt_secret"))
	if err != nil || !bytes.Equal(onDisk, first) {
		t.Errorf("file holds %q (%v), want the returned secret", onDisk, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only jwt_secret (no temp files)", len(entries))
	}
	if runtime.GOOS != "windows" {
		wantMode(t, filepath.Join(dir, "jwt_secret"), 0o600)
		wantMode(t, dir, 0o700)
	}
	// The secret is usable as-is.
	auth.NewTokens(first, testIssuer, testAudience, 0)
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode = %o, want %o", filepath.Base(path), got, want)
	}
}

func TestSecretEnvWins(t *testing.T) {
	dir := t.TempDir()
	env := strings.Repeat("e", 40)
	got, err := auth.LoadOrCreateSecret(env, dir)
	if err != nil || string(got) != env {
		t.Fatalf("got %q, %v; want the env secret", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jwt_secret")); !os.IsNotExist(err) {
		t.Errorf("file written although env was set: %v", err)
	}
	// An existing file does not override the env either.
	if _, err := auth.LoadOrCreateSecret("", dir); err != nil {
		t.Fatal(err)
	}
	if got, _ := auth.LoadOrCreateSecret(env, dir); string(got) != env {
		t.Errorf("got %q, want the env secret over the file", got)
	}
}

func TestSecretTooShort(t *testing.T) {
	if _, err := auth.LoadOrCreateSecret("short", t.TempDir()); err == nil {
		t.Error("short JWT_SECRET accepted")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jwt_secret"), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.LoadOrCreateSecret("", dir); err == nil {
		t.Error("short secret file accepted")
	}
}

func TestSecretFileWhitespaceIgnored(t *testing.T) {
	dir := t.TempDir()
	key := strings.Repeat("k", 40)
	if err := os.WriteFile(filepath.Join(dir, "jwt_secret"), []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := auth.LoadOrCreateSecret("", dir)
	if err != nil || string(got) != key {
		t.Errorf("got %q, %v; want %q", got, err, key)
	}
}

// Instances starting together on one empty data folder must agree on the key.
func TestSecretConcurrentCreate(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := auth.LoadOrCreateSecret("", dir)
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		})
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("call %d got a different secret", i)
		}
	}
}

// LoadSecret reads the server's key and never makes one up: a tool
// signing with a key the server does not have would only get 401s.
func TestLoadSecretNeverGenerates(t *testing.T) {
	dir := t.TempDir()
	if _, err := auth.LoadSecret("", dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no file: err %v, want fs.ErrNotExist", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("dir holds %d entries, want none", len(entries))
	}
	want, err := auth.LoadOrCreateSecret("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := auth.LoadSecret("", dir); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("got %q, %v; want the server's key", got, err)
	}
	env := strings.Repeat("e", 40)
	if got, err := auth.LoadSecret(env, dir); err != nil || string(got) != env {
		t.Fatalf("JWT_SECRET: got %q, %v", got, err)
	}
	if _, err := auth.LoadSecret("short", dir); err == nil {
		t.Fatal("short JWT_SECRET accepted")
	}
}
