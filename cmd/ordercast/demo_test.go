package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var demoLine = regexp.MustCompile(`(?m)^\s+(\w+)\s+(http://\S+/#/signin\?email=\S+)\n\s+email (\S+), password (\S+)$`)

func TestDemoSeedsOnceAndPrintsSignInLinks(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(dir, "ordercast.db"), "LOG_LEVEL": "warn"}
	var firstIDs []string
	for run := range 2 {
		out := newNotifyingBuffer()
		url, stop := startProgramWith(t, env, out, true)
		found := demoLine.FindAllStringSubmatch(out.String(), -1)
		if len(found) != 3 {
			t.Fatalf("run %d printed %d sign-in lines, want 3:\n%s", run, len(found), out.String())
		}
		var ids []string
		var restaurantID string
		for _, f := range found {
			role, link, email, password := f[1], f[2], f[3], f[4]
			if !strings.HasPrefix(link, url+"/#/signin?email=") {
				t.Errorf("%s link %s does not open this server's sign-in form", role, link)
			}
			var session struct {
				User struct {
					ID           string `json:"id"`
					Role         string `json:"role"`
					RestaurantID string `json:"restaurant_id"`
				} `json:"user"`
			}
			body := `{"email":"` + email + `","password":"` + password + `"}`
			resp, err := http.Post(url+"/api/v1/auth/login", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			err = json.NewDecoder(resp.Body).Decode(&session)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || err != nil || session.User.Role != role {
				t.Fatalf("run %d: signing in as the printed %s: %d %+v %v", run, role, resp.StatusCode, session, err)
			}
			ids = append(ids, session.User.ID)
			if role == "restaurant" {
				restaurantID = session.User.RestaurantID
			}
		}
		resp, err := http.Get(url + "/api/v1/restaurants/" + restaurantID + "/menu")
		if err != nil {
			t.Fatal(err)
		}
		var menu struct{ Items []json.RawMessage }
		err = json.NewDecoder(resp.Body).Decode(&menu)
		resp.Body.Close()
		if err != nil || len(menu.Items) != len(demoMenu) {
			t.Fatalf("run %d: the demo restaurant's menu has %d items (%v), want %d", run, len(menu.Items), err, len(demoMenu))
		}
		if run == 0 {
			firstIDs = ids
		} else if strings.Join(ids, ",") != strings.Join(firstIDs, ",") {
			t.Fatalf("the second run made new accounts %v, want the first run's %v", ids, firstIDs)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBrowsableAddr(t *testing.T) {
	for addr, want := range map[string]string{":8080": "localhost:8080", "0.0.0.0:80": "localhost:80", "[::]:9": "localhost:9", "127.0.0.1:5": "127.0.0.1:5", "[::1]:7": "[::1]:7"} {
		if got := browsableAddr(addr); got != want {
			t.Errorf("browsableAddr(%q) = %q, want %q", addr, got, want)
		}
	}
}
