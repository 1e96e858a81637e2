package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The VAPID key pair is generated once into the data folder and kept:
// GET /push/key answers the same key after a restart.
func TestVAPIDKeyKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(dir, "ordercast.db")}
	publicKey := func(url string) string {
		t.Helper()
		resp, err := http.Get(url + "/api/v1/push/key")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			PublicKey string `json:"public_key"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || len(body.PublicKey) != 87 {
			t.Fatalf("GET /push/key: %d %+v %v", resp.StatusCode, body, err)
		}
		return body.PublicKey
	}
	url, stop := startProgram(t, env)
	first := publicKey(url)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "vapid_private_key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("VAPID key not kept in the data folder with mode 0600: %v, %v", fi, err)
	}
	url, _ = startProgram(t, env)
	if again := publicKey(url); again != first {
		t.Fatalf("VAPID public key changed across restarts: %s, then %s", first, again)
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"ordercast_push_sent_total 0", "ordercast_push_skipped_present_total 0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestBadPushConfigIsRefused(t *testing.T) {
	for _, env := range []map[string]string{
		{"VAPID_SUBJECT": "ops@example.com"},
		{"PUSH_ALLOW_INSECURE": "yes"},
		{"VAPID_PRIVATE_KEY": "not-a-key"},
	} {
		env["HUB_ADDR"], env["DATABASE_URL"] = "127.0.0.1:0", "sqlite://"+filepath.Join(t.TempDir(), "o.db")
		err := run(context.Background(), func(k string) string { return env[k] }, io.Discard, nil, false)
		var named bool
		for k := range env {
			named = named || (err != nil && strings.Contains(err.Error(), k) && k != "HUB_ADDR" && k != "DATABASE_URL")
		}
		if !named {
			t.Errorf("%v: %v, want an error naming the variable", env, err)
		}
	}
}
