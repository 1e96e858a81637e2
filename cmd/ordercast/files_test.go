package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDataFilesArePrivate: with the defaults, the data folder is 0700 and
// the database, its WAL and shared memory and the generated JWT secret
// are 0600, while the program runs and after it stopped.
func TestDataFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db := filepath.Join(dir, "ordercast.db")
	url, stop := startProgram(t, map[string]string{"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + db})
	body := `{"email":"a@example.com","password":"long enough pw","name":"A","role":"customer"}`
	resp, err := http.Post(url+"/api/v1/auth/register", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	mode := func(path string) string {
		fi, err := os.Stat(path)
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%04o", fi.Mode().Perm())
	}
	check := func(when string, files ...string) {
		t.Helper()
		if got := mode(dir); got != "0700" {
			t.Errorf("%s: the data folder is %s, want 0700", when, got)
		}
		for _, f := range files {
			if got := mode(f); got != "0600" {
				t.Errorf("%s: %s is %s, want 0600", when, filepath.Base(f), got)
			}
		}
	}
	check("running", db, db+"-wal", db+"-shm", filepath.Join(dir, "jwt_secret"))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	check("stopped", db, filepath.Join(dir, "jwt_secret"))
}

func TestSQLiteSynchronousSetting(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "SQLITE_SYNCHRONOUS" {
				return v
			}
			return ""
		}
	}
	for v, want := range map[string]string{"": "full", "full": "full", "NORMAL": "normal", "normal": "normal"} {
		if cfg, err := loadConfig(env(v)); err != nil || cfg.SQLiteSynchronous != want {
			t.Errorf("SQLITE_SYNCHRONOUS=%q: %q, %v; want %q", v, cfg.SQLiteSynchronous, err, want)
		}
	}
	for _, bad := range []string{"off", "extra", "1"} {
		if _, err := loadConfig(env(bad)); err == nil || !strings.Contains(err.Error(), "SQLITE_SYNCHRONOUS") {
			t.Errorf("SQLITE_SYNCHRONOUS=%q: %v, want an error naming the variable", bad, err)
		}
	}
}
