package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ordercast/ordercast/internal/accounts"
	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

func TestRegisterEachRole(t *testing.T) {
	e := newTestEnv(t)
	for _, role := range []delivery.Role{delivery.RoleCustomer, delivery.RoleRestaurant, delivery.RoleCourier} {
		p := e.register(role)
		var me delivery.User
		e.must(http.StatusOK, "GET", "/api/v1/me", p.Token, nil).decode(t, &me)
		if me.ID != p.User.ID || me.Role != role {
			t.Fatalf("me = %+v, want id %s role %s", me, p.User.ID, role)
		}
		if (role == delivery.RoleRestaurant) != (me.RestaurantID != 0) {
			t.Fatalf("role %s: restaurant_id %s", role, me.RestaurantID)
		}
	}
	var list struct{ Restaurants []delivery.Restaurant }
	e.must(http.StatusOK, "GET", "/api/v1/restaurants", "", nil).decode(t, &list)
	if len(list.Restaurants) != 1 || !strings.HasPrefix(list.Restaurants[0].Name, "Kitchen") {
		t.Fatalf("restaurants = %+v, want the one registered", list.Restaurants)
	}
}

func TestRegisterRejects(t *testing.T) {
	e := newTestEnv(t)
	e.register(delivery.RoleCustomer) // customer1@example.com
	ok := map[string]any{"email": "a@example.com", "password": "long enough pw", "name": "A", "role": "customer"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range ok {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"admin", with("role", "admin"), 403, "forbidden", "role"},
		{"unknown role", with("role", "chef"), 400, "invalid", "role"},
		{"duplicate email any case", with("email", "CUSTOMER1@example.com"), 409, "email_taken", ""},
		{"bad email", with("email", "not-an-email"), 400, "invalid", "email"},
		{"short password", with("password", "short"), 400, "invalid", "password"},
		{"long password", with("password", strings.Repeat("p", 73)), 400, "invalid", "password"},
		{"missing name", with("name", nil), 400, "invalid", "name"},
		{"restaurant without name", with("role", "restaurant"), 400, "invalid", "restaurant_name"},
		{"unknown field", with("is_admin", true), 400, "invalid", "is_admin"},
		{"wrong type", with("password", 12345678), 400, "invalid", "password"},
		{"malformed", `{"email":`, 400, "invalid", ""},
		{"array", `[]`, 400, "invalid", ""},
		{"trailing data", `{"email":"a@example.com"} {}`, 400, "invalid", ""},
		{"empty", ``, 400, "invalid", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/auth/register", "", tc.body)
			if r.Status != tc.status || r.errorCode(t) != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
			if tc.field != "" && !strings.Contains(string(r.Body), tc.field) {
				t.Fatalf("message does not name %s: %s", tc.field, r.Body)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	e := newTestEnv(t)
	p := e.register(delivery.RoleCourier)
	var s accounts.Session
	e.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{"email": strings.ToUpper(p.User.Email), "password": "correct horse battery"}).decode(t, &s)
	if s.User.ID != p.User.ID || s.AccessToken == "" || s.RefreshToken == "" || s.ExpiresIn != 60 {
		t.Fatalf("session = %+v", s)
	}
	for _, body := range []map[string]string{
		{"email": p.User.Email, "password": "wrong password"},
		{"email": "nobody@example.com", "password": "correct horse battery"},
	} {
		r := e.do("POST", "/api/v1/auth/login", "", body)
		if r.Status != 401 || r.errorCode(t) != "unauthorized" {
			t.Fatalf("login %v: %d %s", body, r.Status, r.Body)
		}
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := newTestEnv(t)
	p := e.register(delivery.RoleCustomer)
	var next accounts.Session
	e.must(http.StatusOK, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": p.RefreshToken}).decode(t, &next)
	if next.RefreshToken == p.RefreshToken || next.User.ID != p.User.ID {
		t.Fatalf("refresh did not rotate: %+v", next)
	}
	e.must(http.StatusOK, "GET", "/api/v1/me", next.AccessToken, nil)

	// The spent token comes back: the whole family dies, the fresh one too.
	r := e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": p.RefreshToken})
	if r.Status != 401 || r.errorCode(t) != "token_reused" {
		t.Fatalf("reuse: %d %s", r.Status, r.Body)
	}
	r = e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": next.RefreshToken})
	if r.Status != 401 {
		t.Fatalf("family member after reuse: %d %s", r.Status, r.Body)
	}
	r = e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": "made-up"})
	if r.Status != 401 || r.errorCode(t) != "unauthorized" {
		t.Fatalf("unknown token: %d %s", r.Status, r.Body)
	}
}

// TestLogout: logout ends the session of the access token used, with or
// without a body: its access token is refused at once and its refresh
// token is dead. The refresh token in the body names no session: another
// user's sent along ends nothing of theirs.
func TestLogout(t *testing.T) {
	e := newTestEnv(t)
	p := e.register(delivery.RoleCustomer)
	other := e.register(delivery.RoleCustomer)
	if r := e.do("POST", "/api/v1/auth/logout", "", nil); r.Status != 401 {
		t.Fatalf("logout without token: %d", r.Status)
	}
	if r := e.do("POST", "/api/v1/auth/logout", other.Token, map[string]any{"refresh_token": 7}); r.Status != 400 {
		t.Fatalf("logout with a malformed body: %d %s", r.Status, r.Body)
	}
	e.must(http.StatusOK, "GET", "/api/v1/me", other.Token, nil) // a refused logout ends nothing
	e.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", other.Token, map[string]string{"refresh_token": p.RefreshToken})
	if r := e.do("GET", "/api/v1/me", other.Token, nil); r.Status != 401 || r.errorCode(t) != "unauthorized" {
		t.Fatalf("access token after its logout: %d %s", r.Status, r.Body)
	}
	var next accounts.Session
	e.must(http.StatusOK, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": p.RefreshToken}).decode(t, &next)
	e.must(http.StatusOK, "GET", "/api/v1/me", p.Token, nil)

	e.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", next.AccessToken, nil)
	for _, tok := range []string{p.Token, next.AccessToken} { // both of the session
		if r := e.do("GET", "/api/v1/me", tok, nil); r.Status != 401 {
			t.Fatalf("access token of the ended session: %d %s", r.Status, r.Body)
		}
	}
	if r := e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": next.RefreshToken}); r.Status != 401 {
		t.Fatalf("refresh after logout: %d %s", r.Status, r.Body)
	}
}

func TestAccessTokenChecks(t *testing.T) {
	e := newTestEnv(t)
	p := e.register(delivery.RoleCustomer)
	foreign := auth.NewTokens([]byte("another-secret-another-secret-000000"), "ordercast", "ordercast-api", time.Minute)
	forged, _, err := foreign.Issue(p.User, testSessionID)
	if err != nil {
		t.Fatal(err)
	}
	otherAudience := auth.NewTokens(testSecret, "ordercast", "someone-else", time.Minute)
	wrongAud, _, err := otherAudience.Issue(p.User, testSessionID)
	if err != nil {
		t.Fatal(err)
	}
	expired := expiredToken(t, p.User)
	for name, header := range map[string]string{
		"expired":        "Bearer " + expired,
		"none":           "",
		"not bearer":     "Basic " + p.Token,
		"garbage":        "Bearer abc.def.ghi",
		"wrong secret":   "Bearer " + forged,
		"wrong audience": "Bearer " + wrongAud,
	} {
		r := e.do("GET", "/api/v1/me", "", nil, "Authorization", header)
		if r.Status != 401 || r.errorCode(t) != "unauthorized" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
}

func TestLogsCarryNoSecrets(t *testing.T) {
	e := newTestEnv(t)
	p := e.register(delivery.RoleCustomer)
	e.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{"email": p.User.Email, "password": "correct horse battery"})
	e.must(http.StatusOK, "GET", "/api/v1/me?access_token="+p.Token, p.Token, nil)
	e.must(http.StatusOK, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": p.RefreshToken})
	logs := e.logs.String()
	if !strings.Contains(logs, `"path":"/api/v1/me"`) || !strings.Contains(logs, `"request_id"`) {
		t.Fatalf("request lines missing: %s", logs)
	}
	for _, secret := range []string{p.Token, p.RefreshToken, "correct horse battery"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("logs hold a secret %q", secret[:8])
		}
	}
}

// expiredToken is an access token for u, signed with the test key, that
// expired a minute ago (past the verifier's leeway).
func expiredToken(t testing.TB, u delivery.User) string {
	t.Helper()
	claims := jwt.MapClaims{
		"sub": u.ID.String(), "role": string(u.Role), "iss": "ordercast", "aud": "ordercast-api",
		"iat": time.Now().Add(-time.Hour).Unix(), "exp": time.Now().Add(-time.Minute).Unix(), "jti": "expired",
	}
	if u.RestaurantID != 0 {
		claims["rid"] = u.RestaurantID.String()
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
