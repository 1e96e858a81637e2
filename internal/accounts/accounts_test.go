package accounts_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ordercast/ordercast/internal/accounts"
	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/sessions"
	"github.com/ordercast/ordercast/internal/store/sqlite"
)

func TestMain(m *testing.M) {
	auth.BcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

const testPassword = "correct horse battery"

// env is the account service wired as cmd/ordercast wires it: real
// SQLite, real tokens checked against a list of ended sessions, and that
// list as the revoker.
type env struct {
	t         testing.TB
	store     delivery.Store
	tokens    *auth.Tokens
	svc       *accounts.Service
	announced *announcer
	seq       atomic.Int64
}

func newEnv(t testing.TB) *env {
	t.Helper()
	store := sqlite.OpenTest(t)
	// The list reads the store hourly only, so that a session is refused
	// at once only if the service announced it.
	list := sessions.New(store, sessions.Options{Refresh: time.Hour})
	if err := list.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(list.Close)
	tokens := auth.NewTokens([]byte("test-secret-test-secret-test-secret-0123"), "ordercast", "ordercast-api", time.Minute)
	tokens.SetRevocations(list.Revoked)
	a := &announcer{list: list}
	svc := accounts.New(store, tokens, a)
	return &env{t: t, store: store, tokens: tokens, svc: svc, announced: a}
}

// announcer records the sessions the service announces as ended and
// passes them on to the list.
type announcer struct {
	list *sessions.List
	mu   sync.Mutex
	sids []string
}

func (a *announcer) Announce(ctx context.Context, sids ...string) {
	a.mu.Lock()
	a.sids = append(a.sids, sids...)
	a.mu.Unlock()
	a.list.Announce(ctx, sids...)
}

// take returns the sessions announced since the last take.
func (a *announcer) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	sids := a.sids
	a.sids = nil
	return sids
}

// wantAnnounced fails the test unless exactly sids were announced since
// the last check.
func (e *env) wantAnnounced(what string, sids ...string) {
	e.t.Helper()
	if got := e.announced.take(); !slices.Equal(got, sids) {
		e.t.Errorf("%s: announced %q, want %q", what, got, sids)
	}
}

// register signs up a new user of role with a unique email.
func (e *env) register(role delivery.Role) accounts.Session {
	e.t.Helper()
	n := e.seq.Add(1)
	req := accounts.RegisterRequest{
		Email:    fmt.Sprintf("%s%d@example.com", role, n),
		Password: testPassword,
		Name:     fmt.Sprintf("%s %d", role, n),
		Role:     role,
	}
	if role == delivery.RoleRestaurant {
		req.RestaurantName = fmt.Sprintf("Kitchen %d", n)
	}
	s, err := e.svc.Register(e.t.Context(), req)
	if err != nil {
		e.t.Fatalf("register %s: %v", req.Email, err)
	}
	return s
}

// login signs u in once more: another session.
func (e *env) login(u delivery.User) accounts.Session {
	e.t.Helper()
	s, err := e.svc.Login(e.t.Context(), u.Email, testPassword)
	if err != nil {
		e.t.Fatalf("login %s: %v", u.Email, err)
	}
	return s
}

// sid returns the session of s's access token, failing the test if the
// token does not verify.
func (e *env) sid(s accounts.Session) string {
	e.t.Helper()
	c, err := e.tokens.Verify(s.AccessToken)
	if err != nil {
		e.t.Fatalf("access token of %s: %v", s.User.Email, err)
	}
	return c.SessionID
}

// wantLive fails the test unless s's access token verifies.
func (e *env) wantLive(what string, s accounts.Session) {
	e.t.Helper()
	if _, err := e.tokens.Verify(s.AccessToken); err != nil {
		e.t.Errorf("%s: access token refused: %v", what, err)
	}
}

// wantEnded fails the test unless s's access token is refused with
// unauthorized.
func (e *env) wantEnded(what string, s accounts.Session) {
	e.t.Helper()
	if _, err := e.tokens.Verify(s.AccessToken); delivery.ErrorCode(err) != delivery.EUNAUTHORIZED {
		e.t.Errorf("%s: access token: %v, want unauthorized", what, err)
	}
}

// wantError fails the test unless err has code and, for a field, a
// message that starts with it.
func wantError(t testing.TB, what string, err error, code, field string) {
	t.Helper()
	if got := delivery.ErrorCode(err); got != code {
		t.Errorf("%s: %v, want code %s", what, err, code)
		return
	}
	if msg := delivery.ErrorMessage(err); field != "" && !strings.HasPrefix(msg, field+":") {
		t.Errorf("%s: message %q does not name %s", what, msg, field)
	}
}
