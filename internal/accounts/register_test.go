package accounts_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/accounts"
	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

// Each role that may sign up gets a user, a restaurant for role
// restaurant only, and a session: an access token of that user, role and
// restaurant in a session of its own, and a refresh token.
func TestRegisterEachRole(t *testing.T) {
	e := newEnv(t)
	sids := map[string]bool{}
	for _, role := range []delivery.Role{delivery.RoleCustomer, delivery.RoleRestaurant, delivery.RoleCourier} {
		t.Run(string(role), func(t *testing.T) {
			s := e.register(role)
			u := s.User
			if u.ID <= 0 || u.Role != role || u.CreatedAt.IsZero() {
				t.Fatalf("user = %+v", u)
			}
			if s.TokenType != "Bearer" || s.ExpiresIn != 60 || s.RefreshToken == "" {
				t.Fatalf("session = %+v, want a Bearer token of 60 s and a refresh token", s)
			}
			c, err := e.tokens.Verify(s.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if c.UserID != u.ID || c.Role != role || c.RestaurantID != u.RestaurantID || c.SessionID == "" || sids[c.SessionID] {
				t.Fatalf("claims = %+v of user %+v; sessions so far %v", c, u, sids)
			}
			sids[c.SessionID] = true
			if role == delivery.RoleRestaurant {
				r, err := e.store.RestaurantByID(t.Context(), u.RestaurantID)
				if err != nil || !strings.HasPrefix(r.Name, "Kitchen ") {
					t.Fatalf("restaurant %s: %+v, %v", u.RestaurantID, r, err)
				}
			} else if u.RestaurantID != 0 {
				t.Fatalf("a %s got restaurant %s", role, u.RestaurantID)
			}
			me, err := e.svc.Me(t.Context(), c.Actor())
			if err != nil || me.ID != u.ID || me.Email != u.Email || me.Role != role {
				t.Fatalf("Me = %+v, %v; want %+v", me, err, u)
			}
		})
	}
}

// The password is kept only as a bcrypt hash, and the session a client is
// answered holds neither.
func TestRegisterKeepsOnlyAHash(t *testing.T) {
	e := newEnv(t)
	s := e.register(delivery.RoleCustomer)
	stored, err := e.store.UserByID(t.Context(), s.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.PasswordHash == testPassword || !auth.CheckPassword(stored.PasswordHash, testPassword) {
		t.Fatalf("stored hash %q does not check the password", stored.PasswordHash)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), stored.PasswordHash) || strings.Contains(string(b), testPassword) {
		t.Fatalf("session JSON holds the password or its hash: %s", b)
	}
}

// Email is lower-cased and trimmed, names are trimmed; the password is
// taken as it is, spaces and all.
func TestRegisterNormalizes(t *testing.T) {
	e := newEnv(t)
	const password = "  spaced out  "
	s, err := e.svc.Register(t.Context(), accounts.RegisterRequest{
		Email: "  Ann.Lee@Example.COM ", Password: password, Name: "\tAnn Lee  ",
		Role: delivery.RoleRestaurant, RestaurantName: "  Ann's Kitchen ",
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.User.Email != "ann.lee@example.com" || s.User.Name != "Ann Lee" {
		t.Fatalf("user = %+v, want email ann.lee@example.com and name %q", s.User, "Ann Lee")
	}
	if r, err := e.store.RestaurantByID(t.Context(), s.User.RestaurantID); err != nil || r.Name != "Ann's Kitchen" {
		t.Fatalf("restaurant = %+v, %v; want name %q", r, err, "Ann's Kitchen")
	}
	if _, err := e.svc.Login(t.Context(), "ANN.LEE@example.com", password); err != nil {
		t.Fatalf("login in another case: %v", err)
	}
	if _, err := e.svc.Login(t.Context(), "ann.lee@example.com", strings.TrimSpace(password)); delivery.ErrorCode(err) != delivery.EUNAUTHORIZED {
		t.Fatalf("login with the password trimmed: %v, want unauthorized", err)
	}
}

// Every refused registration names its field, and stores nothing.
func TestRegisterRejects(t *testing.T) {
	e := newEnv(t)
	ok := accounts.RegisterRequest{Email: "a@example.com", Password: testPassword, Name: "A", Role: delivery.RoleCustomer}
	for _, tc := range []struct {
		name  string
		edit  func(*accounts.RegisterRequest)
		code  string
		field string
	}{
		{"admin", func(r *accounts.RegisterRequest) { r.Role = delivery.RoleAdmin }, delivery.EFORBIDDEN, "role"},
		{"unknown role", func(r *accounts.RegisterRequest) { r.Role = "chef" }, delivery.EINVALID, "role"},
		{"no role", func(r *accounts.RegisterRequest) { r.Role = "" }, delivery.EINVALID, "role"},
		{"no email", func(r *accounts.RegisterRequest) { r.Email = "  " }, delivery.EINVALID, "email"},
		{"not an email", func(r *accounts.RegisterRequest) { r.Email = "not-an-email" }, delivery.EINVALID, "email"},
		{"email with a display name", func(r *accounts.RegisterRequest) { r.Email = "A <a@example.com>" }, delivery.EINVALID, "email"},
		{"two emails", func(r *accounts.RegisterRequest) { r.Email = "a@example.com, b@example.com" }, delivery.EINVALID, "email"},
		{"email too long", func(r *accounts.RegisterRequest) {
			r.Email = strings.Repeat("a", accounts.MaxEmailLen-len("@example.com")+1) + "@example.com"
		}, delivery.EINVALID, "email"},
		{"email with a control character", func(r *accounts.RegisterRequest) { r.Email = "a\x00@example.com" }, delivery.EINVALID, "email"},
		{"short password", func(r *accounts.RegisterRequest) { r.Password = "seven c" }, delivery.EINVALID, "password"},
		{"short password of long runes", func(r *accounts.RegisterRequest) { r.Password = "ééééééé" }, delivery.EINVALID, "password"},
		{"password over 72 bytes", func(r *accounts.RegisterRequest) { r.Password = strings.Repeat("p", auth.MaxPasswordLen+1) }, delivery.EINVALID, "password"},
		{"no name", func(r *accounts.RegisterRequest) { r.Name = "" }, delivery.EINVALID, "name"},
		{"blank name", func(r *accounts.RegisterRequest) { r.Name = " \t " }, delivery.EINVALID, "name"},
		{"name too long", func(r *accounts.RegisterRequest) { r.Name = strings.Repeat("n", accounts.MaxNameLen+1) }, delivery.EINVALID, "name"},
		{"name with a bidi override", func(r *accounts.RegisterRequest) { r.Name = "A\u202Eb" }, delivery.EINVALID, "name"},
		{"restaurant without its name", func(r *accounts.RegisterRequest) { r.Role = delivery.RoleRestaurant }, delivery.EINVALID, "restaurant_name"},
		{"restaurant with a blank name", func(r *accounts.RegisterRequest) {
			r.Role, r.RestaurantName = delivery.RoleRestaurant, "   "
		}, delivery.EINVALID, "restaurant_name"},
		{"restaurant name too long", func(r *accounts.RegisterRequest) {
			r.Role, r.RestaurantName = delivery.RoleRestaurant, strings.Repeat("k", accounts.MaxNameLen+1)
		}, delivery.EINVALID, "restaurant_name"},
		{"customer with a restaurant name", func(r *accounts.RegisterRequest) { r.RestaurantName = "Kitchen" }, delivery.EINVALID, "restaurant_name"},
		{"courier with a restaurant name", func(r *accounts.RegisterRequest) {
			r.Role, r.RestaurantName = delivery.RoleCourier, "Kitchen"
		}, delivery.EINVALID, "restaurant_name"},
		{"customer with a restaurant place", func(r *accounts.RegisterRequest) { r.RestaurantLat, r.RestaurantLng = f64(1), f64(2) }, delivery.EINVALID, "restaurant_lat"},
		{"courier with a preparation time", func(r *accounts.RegisterRequest) {
			r.Role, r.PrepMinutes = delivery.RoleCourier, intp(10)
		}, delivery.EINVALID, "prep_minutes"},
		{"restaurant latitude alone", func(r *accounts.RegisterRequest) {
			r.Role, r.RestaurantName, r.RestaurantLat = delivery.RoleRestaurant, "Kitchen", f64(52.5)
		}, delivery.EINVALID, "restaurant_lng"},
		{"restaurant longitude out of range", func(r *accounts.RegisterRequest) {
			r.Role, r.RestaurantName, r.RestaurantLat, r.RestaurantLng = delivery.RoleRestaurant, "Kitchen", f64(52.5), f64(200)
		}, delivery.EINVALID, "restaurant_lng"},
		{"restaurant preparation time of 0", func(r *accounts.RegisterRequest) {
			r.Role, r.RestaurantName, r.PrepMinutes = delivery.RoleRestaurant, "Kitchen", intp(0)
		}, delivery.EINVALID, "prep_minutes"},
		{"restaurant preparation time over 240", func(r *accounts.RegisterRequest) {
			r.Role, r.RestaurantName, r.PrepMinutes = delivery.RoleRestaurant, "Kitchen", intp(241)
		}, delivery.EINVALID, "prep_minutes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := ok
			tc.edit(&req)
			_, err := e.svc.Register(t.Context(), req)
			wantError(t, "register", err, tc.code, tc.field)
		})
	}
	if _, err := e.store.UserByEmail(t.Context(), ok.Email); delivery.ErrorCode(err) != delivery.ENOTFOUND {
		t.Errorf("a refused registration was stored: %v", err)
	}
	if list, err := e.store.ListRestaurants(t.Context()); err != nil || len(list) != 0 {
		t.Errorf("restaurants after refused registrations: %+v, %v", list, err)
	}
}

// A restaurant may register with its place and preparation time; without
// them it has no place and 15 minutes.
func TestRegisterRestaurantPlace(t *testing.T) {
	e := newEnv(t)
	s, err := e.svc.Register(t.Context(), accounts.RegisterRequest{Email: "placed@example.com", Password: testPassword, Name: "P",
		Role: delivery.RoleRestaurant, RestaurantName: "Placed", RestaurantLat: f64(-33.8568), RestaurantLng: f64(151.2153), PrepMinutes: intp(240)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.store.RestaurantByID(t.Context(), s.User.RestaurantID)
	if err != nil || r.Place == nil || *r.Place != (delivery.Place{Lat: -33.8568, Lng: 151.2153}) || r.PrepMinutes != 240 {
		t.Fatalf("restaurant %+v, %v: want its place and 240 minutes", r, err)
	}
	plain := e.register(delivery.RoleRestaurant)
	r, err = e.store.RestaurantByID(t.Context(), plain.User.RestaurantID)
	if err != nil || r.Place != nil || r.PrepMinutes != delivery.DefaultPrepMinutes {
		t.Fatalf("restaurant %+v, %v: want no place and %d minutes", r, err, delivery.DefaultPrepMinutes)
	}
}

func f64(v float64) *float64 { return &v }

func intp(v int) *int { return &v }

// The limits themselves are accepted: counted in characters for names and
// the shortest password, in bytes for the longest.
func TestRegisterAcceptsTheLimits(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		req  accounts.RegisterRequest
	}{
		{"8 two-byte characters", accounts.RegisterRequest{Email: "short@example.com", Password: "éééééééé", Name: "S"}},
		{"72-byte password", accounts.RegisterRequest{Email: "long@example.com", Password: strings.Repeat("p", auth.MaxPasswordLen), Name: "L"}},
		{"names of 100 characters", accounts.RegisterRequest{
			Email: "names@example.com", Password: testPassword, Name: strings.Repeat("ü", accounts.MaxNameLen),
			Role: delivery.RoleRestaurant, RestaurantName: strings.Repeat("ß", accounts.MaxNameLen),
		}},
		{"email of 254 characters", accounts.RegisterRequest{
			Email: strings.Repeat("a", 64) + "@" + strings.Repeat("b", accounts.MaxEmailLen-64-1-len(".com")) + ".com", Password: testPassword, Name: "E",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			if req.Role == "" {
				req.Role = delivery.RoleCustomer
			}
			if _, err := e.svc.Register(t.Context(), req); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Login(t.Context(), req.Email, req.Password); err != nil {
				t.Fatalf("login: %v", err)
			}
		})
	}
}

// An email is taken in any case, whatever the role, and by an admin too;
// the first account keeps it.
func TestRegisterEmailTaken(t *testing.T) {
	e := newEnv(t)
	first := e.register(delivery.RoleCustomer)
	for _, req := range []accounts.RegisterRequest{
		{Email: first.User.Email, Password: "another password", Name: "Twin", Role: delivery.RoleCustomer},
		{Email: strings.ToUpper(first.User.Email), Password: "another password", Name: "Twin", Role: delivery.RoleCourier},
		{Email: " " + first.User.Email, Password: "another password", Name: "Twin", Role: delivery.RoleRestaurant, RestaurantName: "Twin's"},
	} {
		_, err := e.svc.Register(t.Context(), req)
		wantError(t, "register "+req.Email, err, delivery.EEMAILTAKEN, "")
	}
	_, err := accounts.CreateAdmin(t.Context(), e.store, strings.ToUpper(first.User.Email), "Admin", testPassword)
	wantError(t, "admin with a taken email", err, delivery.EEMAILTAKEN, "")
	if list, err := e.store.ListRestaurants(t.Context()); err != nil || len(list) != 0 {
		t.Errorf("a refused restaurant registration left a restaurant: %+v, %v", list, err)
	}
	u, err := e.store.UserByEmail(t.Context(), first.User.Email)
	if err != nil || u.ID != first.User.ID || u.Role != delivery.RoleCustomer {
		t.Fatalf("the email's account: %+v, %v; want the first", u, err)
	}
	e.login(first.User)
}

// RegisterHashed makes accounts as Register does, with the hash given: one
// hash shared by many accounts, each of which signs in with its password
// and gets a session of its own; the other rules of registration hold.
func TestRegisterHashedSharesOneHash(t *testing.T) {
	e := newEnv(t)
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	sids := map[string]bool{}
	for _, role := range []delivery.Role{delivery.RoleCustomer, delivery.RoleRestaurant, delivery.RoleCourier} {
		req := accounts.RegisterRequest{Email: " Seeded-" + string(role) + "@Example.com", Name: "Seeded", Role: role}
		if role == delivery.RoleRestaurant {
			req.RestaurantName = "Seeded kitchen"
		}
		s, err := e.svc.RegisterHashed(t.Context(), req, hash)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if s.User.Email != "seeded-"+string(role)+"@example.com" || s.User.Role != role || (role == delivery.RoleRestaurant) != (s.User.RestaurantID != 0) {
			t.Fatalf("%s: user %+v", role, s.User)
		}
		sid := e.sid(s)
		if sids[sid] {
			t.Fatalf("%s: session %s shared", role, sid)
		}
		sids[sid] = true
		if stored, err := e.store.UserByID(t.Context(), s.User.ID); err != nil || stored.PasswordHash != hash {
			t.Fatalf("%s: stored %q, %v; want the hash given", role, stored.PasswordHash, err)
		}
		e.login(s.User)
	}
	_, err = e.svc.RegisterHashed(t.Context(), accounts.RegisterRequest{Email: "boss@example.com", Name: "Boss", Role: delivery.RoleAdmin}, hash)
	wantError(t, "admin", err, delivery.EFORBIDDEN, "role")
	_, err = e.svc.RegisterHashed(t.Context(), accounts.RegisterRequest{Email: "seeded-customer@example.com", Name: "Again", Role: delivery.RoleCustomer}, hash)
	wantError(t, "email taken", err, delivery.EEMAILTAKEN, "")
}
