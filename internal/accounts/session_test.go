package accounts_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/accounts"
	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
)

// A login starts another session of the user, beside the first: any case
// of the email will do.
func TestLogin(t *testing.T) {
	e := newEnv(t)
	reg := e.register(delivery.RoleRestaurant)
	s, err := e.svc.Login(t.Context(), strings.ToUpper(reg.User.Email), testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if s.User.ID != reg.User.ID || s.User.RestaurantID != reg.User.RestaurantID || s.RefreshToken == reg.RefreshToken {
		t.Fatalf("login = %+v, registration %+v", s, reg)
	}
	if e.sid(s) == e.sid(reg) {
		t.Fatal("the login continued the registration's session")
	}
	e.wantLive("registration", reg)
	e.wantLive("login", s)
}

// Every miss answers alike, so that a login does not tell which emails are
// registered: a wrong password, an unknown email, and something that
// cannot be an email at all.
func TestLoginMisses(t *testing.T) {
	e := newEnv(t)
	u := e.register(delivery.RoleCustomer).User
	var first error
	for _, tc := range []struct{ name, email, password string }{
		{"wrong password", u.Email, "wrong password"},
		{"password in another case", u.Email, strings.ToUpper(testPassword)},
		{"no password", u.Email, ""},
		{"password over 72 bytes", u.Email, testPassword + strings.Repeat("x", auth.MaxPasswordLen)},
		{"unknown email", "nobody@example.com", testPassword},
		{"not an email", "nobody", testPassword},
		{"no email", "", testPassword},
	} {
		_, err := e.svc.Login(t.Context(), tc.email, tc.password)
		wantError(t, tc.name, err, delivery.EUNAUTHORIZED, "")
		if first == nil {
			first = err
		} else if delivery.ErrorMessage(err) != delivery.ErrorMessage(first) {
			t.Errorf("%s: %q, unlike a wrong password's %q", tc.name, delivery.ErrorMessage(err), delivery.ErrorMessage(first))
		}
	}
	e.wantAnnounced("misses")
}

// An unknown or malformed email costs a password comparison too: with
// every hashing slot taken, such a login waits for one like any other and
// is refused with unavailable when the wait is over; so is a
// registration. The test holds the gate's one slot and ends each wait
// itself.
func TestPasswordWorkWaitsForTheGate(t *testing.T) {
	e := newEnv(t)
	u := e.register(delivery.RoleCustomer).User
	waits := make(chan chan time.Time)
	gate := limits.NewGate(limits.GateConfig{Slots: 1, After: func(time.Duration) (<-chan time.Time, func()) {
		c := make(chan time.Time, 1)
		waits <- c
		return c, func() {}
	}})
	e.svc.SetHashGate(gate)
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = gate.Do(context.Background(), func() { close(held); <-release })
	}()
	<-held
	var once sync.Once
	releaseGate := func() { once.Do(func() { close(release); <-done }) }
	t.Cleanup(releaseGate)
	for name, call := range map[string]func() error{
		"known email":    func() error { _, err := e.svc.Login(t.Context(), u.Email, testPassword); return err },
		"wrong password": func() error { _, err := e.svc.Login(t.Context(), u.Email, "wrong password"); return err },
		"unknown email":  func() error { _, err := e.svc.Login(t.Context(), "nobody@example.com", testPassword); return err },
		"not an email":   func() error { _, err := e.svc.Login(t.Context(), "nobody", testPassword); return err },
		"registration": func() error {
			_, err := e.svc.Register(t.Context(), accounts.RegisterRequest{Email: "late@example.com", Password: testPassword, Name: "L", Role: delivery.RoleCustomer})
			return err
		},
	} {
		errs := make(chan error, 1)
		go func() { errs <- call() }()
		select {
		case wait := <-waits:
			wait <- time.Now() // the call waits for a slot: its wait is over
		case err := <-errs:
			t.Fatalf("%s: %v without waiting for a hashing slot", name, err)
		}
		wantError(t, name, <-errs, delivery.EUNAVAILABLE, "")
	}
	releaseGate()
	if _, err := e.store.UserByEmail(t.Context(), "late@example.com"); delivery.ErrorCode(err) != delivery.ENOTFOUND {
		t.Errorf("the refused registration was stored: %v", err)
	}
	e.login(u)
}

// A refresh spends its token and answers a new pair in the same session,
// again and again.
func TestRefreshRotates(t *testing.T) {
	e := newEnv(t)
	s := e.register(delivery.RoleCourier)
	sid := e.sid(s)
	for i := range 3 {
		next, err := e.svc.Refresh(t.Context(), s.RefreshToken)
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if next.RefreshToken == s.RefreshToken || next.User.ID != s.User.ID || next.User.Role != delivery.RoleCourier || next.ExpiresIn != 60 {
			t.Fatalf("refresh %d: %+v after %+v", i, next, s)
		}
		if got := e.sid(next); got != sid {
			t.Fatalf("refresh %d: session %q, want %q", i, got, sid)
		}
		s = next
	}
	e.wantAnnounced("rotation")
}

func TestRefreshRejects(t *testing.T) {
	e := newEnv(t)
	s := e.register(delivery.RoleCustomer)
	_, err := e.svc.Refresh(t.Context(), "")
	wantError(t, "no token", err, delivery.EINVALID, "refresh_token")
	_, err = e.svc.Refresh(t.Context(), "made-up")
	wantError(t, "unknown token", err, delivery.EUNAUTHORIZED, "")
	_, err = e.svc.Refresh(t.Context(), s.AccessToken)
	wantError(t, "an access token", err, delivery.EUNAUTHORIZED, "")
	e.wantAnnounced("refused refreshes")
	e.wantLive("session after refused refreshes", s)
	if _, err := e.svc.Refresh(t.Context(), s.RefreshToken); err != nil {
		t.Fatalf("the real token after refused ones: %v", err)
	}
}

// A spent refresh token used again ends its session: token_reused, the
// session announced, every access token issued in it refused at once and
// its latest refresh token dead. The user's other session lives on.
func TestRefreshReuseEndsSession(t *testing.T) {
	e := newEnv(t)
	first := e.register(delivery.RoleCustomer)
	other := e.login(first.User)
	next, err := e.svc.Refresh(t.Context(), first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	sid := e.sid(next)
	_, err = e.svc.Refresh(t.Context(), first.RefreshToken)
	wantError(t, "reuse", err, delivery.ETOKENREUSED, "")
	e.wantAnnounced("reuse", sid)
	e.wantEnded("first pair", first)
	e.wantEnded("rotated pair", next)
	_, err = e.svc.Refresh(t.Context(), next.RefreshToken)
	wantError(t, "the latest refresh token", err, delivery.EUNAUTHORIZED, "")
	e.wantAnnounced("refresh of an ended session")

	e.wantLive("other session", other)
	if _, err := e.svc.Refresh(t.Context(), other.RefreshToken); err != nil {
		t.Fatalf("refresh of the other session: %v", err)
	}
	revs, err := e.store.RevokedSessions(t.Context(), time.Time{})
	if err != nil || len(revs) != 1 || revs[0].SessionID != sid || revs[0].UserID != first.User.ID {
		t.Fatalf("revocations = %+v, %v; want session %s of user %s", revs, err, sid, first.User.ID)
	}
}

// A refresh token lasts RefreshTTL from its issue: each rotation issues
// one that lasts as long again.
func TestRefreshTokenExpires(t *testing.T) {
	e := newEnv(t)
	// Ahead of the real time only: the store's own purge of expired
	// tokens runs on the real clock.
	now := time.Now().Truncate(time.Second)
	at := now
	accounts.SetClock(e.svc, func() time.Time { return at })
	kept := e.register(delivery.RoleCustomer)
	idle := e.login(kept.User)

	at = now.Add(accounts.RefreshTTL - time.Second)
	rotated, err := e.svc.Refresh(t.Context(), kept.RefreshToken)
	if err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	at = now.Add(accounts.RefreshTTL)
	_, err = e.svc.Refresh(t.Context(), idle.RefreshToken)
	wantError(t, "at expiry", err, delivery.EUNAUTHORIZED, "")
	next, err := e.svc.Refresh(t.Context(), rotated.RefreshToken)
	if err != nil {
		t.Fatalf("the rotated token, past the first one's expiry: %v", err)
	}
	at = at.Add(accounts.RefreshTTL)
	_, err = e.svc.Refresh(t.Context(), next.RefreshToken)
	wantError(t, "the rotated token at its expiry", err, delivery.EUNAUTHORIZED, "")
	e.wantAnnounced("expiries")
}

// Logout ends the caller's session: announced, its access tokens (from
// before and after a rotation) refused at once, its refresh token dead.
// Another session of the user lives on; logging out twice is no error.
func TestLogout(t *testing.T) {
	e := newEnv(t)
	first := e.register(delivery.RoleCourier)
	other := e.login(first.User)
	next, err := e.svc.Refresh(t.Context(), first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	sid := e.sid(next)
	actor := first.User.Actor()
	if err := e.svc.Logout(t.Context(), actor, sid); err != nil {
		t.Fatal(err)
	}
	e.wantAnnounced("logout", sid)
	e.wantEnded("first pair", first)
	e.wantEnded("rotated pair", next)
	_, err = e.svc.Refresh(t.Context(), next.RefreshToken)
	wantError(t, "refresh after logout", err, delivery.EUNAUTHORIZED, "")
	e.wantLive("other session", other)
	if err := e.svc.Logout(t.Context(), actor, sid); err != nil {
		t.Fatalf("second logout: %v", err)
	}
	e.wantAnnounced("second logout", sid)

	err = e.svc.Logout(t.Context(), actor, "")
	wantError(t, "logout without a session", err, delivery.EUNAUTHORIZED, "")
	e.wantAnnounced("logout without a session")
	e.wantLive("other session after a refused logout", other)
}

// The sessions the store ends for a user (ordercast admin revoke) are
// those the service started, by the ids their access tokens carry: their
// refresh tokens die; other users' sessions do not.
func TestUserSessionsRevokedInTheStore(t *testing.T) {
	e := newEnv(t)
	first := e.register(delivery.RoleCustomer)
	second := e.login(first.User)
	bystander := e.register(delivery.RoleCustomer)
	sids, err := e.store.RevokeUserSessions(t.Context(), first.User.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{e.sid(first), e.sid(second)}
	slices.Sort(want)
	if slices.Sort(sids); !slices.Equal(sids, want) {
		t.Fatalf("revoked %q, want the sessions %q", sids, want)
	}
	for name, s := range map[string]accounts.Session{"registration": first, "login": second} {
		_, err := e.svc.Refresh(t.Context(), s.RefreshToken)
		wantError(t, "refresh of the "+name, err, delivery.EUNAUTHORIZED, "")
	}
	if _, err := e.svc.Refresh(t.Context(), bystander.RefreshToken); err != nil {
		t.Fatalf("another user's refresh: %v", err)
	}
	e.login(first.User) // a revoked user may sign in again
}
