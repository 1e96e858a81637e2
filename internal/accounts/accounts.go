// Package accounts runs registration, login, refresh-token rotation and
// logout on top of the Store and internal/auth.
package accounts

import (
	"context"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
)

// RefreshTTL is how long a refresh token may be used; each use rotates it.
const RefreshTTL = 30 * 24 * time.Hour

// Limits on registration fields.
const (
	MinPasswordLen = 8
	MaxEmailLen    = 254
	MaxNameLen     = 100
)

// Service issues and rotates credentials.
type Service struct {
	store  delivery.Store
	tokens *auth.Tokens
	now    func() time.Time
	// dummyHash is compared against when the email is unknown, so that a
	// login's timing does not tell which emails are registered.
	dummyHash func() string
	revoker   Revoker // nil: ended sessions are only in the store
	// hashing bounds the bcrypt runs of registrations and logins: one a
	// core at once, waiting at most 5 s (API.md, "Limits").
	hashing *limits.Gate
}

// New returns the account service; revoker (nil: none, ended sessions
// are then only in the store) is told of the sessions it ends.
func New(store delivery.Store, tokens *auth.Tokens, revoker Revoker) *Service {
	return &Service{
		store:   store,
		tokens:  tokens,
		revoker: revoker,
		now:     time.Now,
		dummyHash: sync.OnceValue(func() string {
			h, _ := auth.HashPassword("not a password of anyone")
			return h
		}),
		hashing: limits.NewGate(limits.GateConfig{}),
	}
}

// SetHashGate replaces the gate of password hashing (tests fill one).
func (s *Service) SetHashGate(g *limits.Gate) { s.hashing = g }

// passwordMatches compares under the hashing gate; a request that waited
// too long is refused with 503.
func (s *Service) passwordMatches(ctx context.Context, hash, password string) (ok bool, err error) {
	err = s.hashing.Do(ctx, func() { ok = auth.CheckPassword(hash, password) })
	return ok, err
}

// Session is what register, login and refresh answer.
type Session struct {
	User         delivery.User `json:"user"`
	AccessToken  string        `json:"access_token"`
	RefreshToken string        `json:"refresh_token"`
	TokenType    string        `json:"token_type"`
	ExpiresIn    int           `json:"expires_in"`
}

// RegisterRequest is the body of POST /auth/register.
type RegisterRequest struct {
	Email          string        `json:"email"`
	Password       string        `json:"password"`
	Name           string        `json:"name"`
	Role           delivery.Role `json:"role"`
	RestaurantName string        `json:"restaurant_name,omitempty"`
	// The restaurant's place and preparation estimate, role restaurant
	// only; both coordinates or neither.
	RestaurantLat *float64 `json:"restaurant_lat,omitempty"`
	RestaurantLng *float64 `json:"restaurant_lng,omitempty"`
	PrepMinutes   *int     `json:"prep_minutes,omitempty"`
}

// Register creates a user (and, for role restaurant, its restaurant) and
// signs it in. Admins cannot register themselves.
func (s *Service) Register(ctx context.Context, req RegisterRequest) (Session, error) {
	u, restaurant, err := newAccount(req, true)
	if err != nil {
		return Session{}, err
	}
	if gerr := s.hashing.Do(ctx, func() { u.PasswordHash, err = auth.HashPassword(req.Password) }); gerr != nil {
		return Session{}, gerr
	}
	if err != nil {
		return Session{}, err
	}
	return s.create(ctx, u, restaurant)
}

// RegisterHashed registers as Register does, but the account's password
// is the one passwordHash (from auth.HashPassword) was made of, and
// req.Password is not read: a load tool that seeds thousands of accounts
// with one password (cmd/ordercast-load -seed) hashes it once, not once
// per account.
func (s *Service) RegisterHashed(ctx context.Context, req RegisterRequest, passwordHash string) (Session, error) {
	u, restaurant, err := newAccount(req, false)
	if err != nil {
		return Session{}, err
	}
	u.PasswordHash = passwordHash
	return s.create(ctx, u, restaurant)
}

// newAccount checks a registration (its password too, with password) and
// returns the user and restaurant to create, without the password hash.
func newAccount(req RegisterRequest, password bool) (delivery.User, delivery.Restaurant, error) {
	var restaurant delivery.Restaurant
	fail := func(err error) (delivery.User, delivery.Restaurant, error) { return delivery.User{}, restaurant, err }
	email, err := normalizeEmail(req.Email)
	if err != nil {
		return fail(err)
	}
	if password {
		if err := checkPassword(req.Password); err != nil {
			return fail(err)
		}
	}
	name, err := delivery.CheckText("name", req.Name, nameRule)
	if err != nil {
		return fail(err)
	}
	if restaurant.Name, err = delivery.CheckText("restaurant_name", req.RestaurantName, delivery.TextRule{Max: delivery.MaxRestaurantNameLen}); err != nil {
		return fail(err)
	}
	switch req.Role {
	case delivery.RoleCustomer, delivery.RoleCourier:
		if restaurant.Name != "" {
			return fail(delivery.Errorf(delivery.EINVALID, "restaurant_name: only for role restaurant"))
		}
		if field := req.placeField(); field != "" {
			return fail(delivery.Errorf(delivery.EINVALID, "%s: only for role restaurant", field))
		}
	case delivery.RoleRestaurant:
		if restaurant.Name == "" {
			return fail(delivery.Errorf(delivery.EINVALID, "restaurant_name: required for role restaurant"))
		}
		if restaurant.Place, err = delivery.CheckPlace("restaurant_lat", "restaurant_lng", req.RestaurantLat, req.RestaurantLng); err != nil {
			return fail(err)
		}
		if req.PrepMinutes != nil {
			if err := delivery.CheckPrepMinutes("prep_minutes", *req.PrepMinutes); err != nil {
				return fail(err)
			}
			restaurant.PrepMinutes = *req.PrepMinutes
		}
	case delivery.RoleAdmin:
		return fail(delivery.Errorf(delivery.EFORBIDDEN, "role: admin accounts cannot self-register"))
	default:
		return fail(delivery.Errorf(delivery.EINVALID, "role: must be customer, restaurant or courier"))
	}
	return delivery.User{Email: email, Name: name, Role: req.Role}, restaurant, nil
}

// create stores the new account and signs it in.
func (s *Service) create(ctx context.Context, u delivery.User, restaurant delivery.Restaurant) (Session, error) {
	u, err := s.store.CreateUser(ctx, u, restaurant)
	if err != nil {
		return Session{}, err
	}
	family, err := auth.NewFamilyID()
	if err != nil {
		return Session{}, err
	}
	return s.startSession(ctx, u, family)
}

// placeField names the first of the restaurant's place and preparation
// fields r holds, "" if none.
func (r RegisterRequest) placeField() string {
	switch {
	case r.RestaurantLat != nil:
		return "restaurant_lat"
	case r.RestaurantLng != nil:
		return "restaurant_lng"
	case r.PrepMinutes != nil:
		return "prep_minutes"
	}
	return ""
}

// Login checks the password and signs the user in with a new token family.
func (s *Service) Login(ctx context.Context, email, password string) (Session, error) {
	invalid := delivery.Errorf(delivery.EUNAUTHORIZED, "invalid email or password")
	email, err := normalizeEmail(email)
	if err != nil {
		// No account has such an email; answer like any other miss.
		if _, err := s.passwordMatches(ctx, s.dummyHash(), password); err != nil {
			return Session{}, err
		}
		return Session{}, invalid
	}
	u, err := s.store.UserByEmail(ctx, email)
	if delivery.ErrorCode(err) == delivery.ENOTFOUND {
		if _, err := s.passwordMatches(ctx, s.dummyHash(), password); err != nil {
			return Session{}, err
		}
		return Session{}, invalid
	}
	if err != nil {
		return Session{}, err
	}
	ok, err := s.passwordMatches(ctx, u.PasswordHash, password)
	if err != nil {
		return Session{}, err
	}
	if !ok {
		return Session{}, invalid
	}
	family, err := auth.NewFamilyID()
	if err != nil {
		return Session{}, err
	}
	return s.startSession(ctx, u, family)
}

// Refresh spends refreshToken and returns a new pair in the same session.
// A token used twice ends the session (the store does it; the revoker
// then closes its sockets), so a stolen token dies at the first use by
// either holder, and so do the access tokens issued to both.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Session, error) {
	if refreshToken == "" {
		return Session{}, delivery.Errorf(delivery.EINVALID, "refresh_token: required")
	}
	token, hash, err := auth.NewRefreshToken()
	if err != nil {
		return Session{}, err
	}
	now := s.now()
	next := delivery.RefreshToken{Hash: hash, ExpiresAt: now.Add(RefreshTTL)}
	userID, sid, err := s.store.RotateRefreshToken(ctx, auth.HashRefreshToken(refreshToken), next, now)
	if delivery.ErrorCode(err) == delivery.ETOKENREUSED {
		s.announce(ctx, sid)
	}
	if err != nil {
		return Session{}, err
	}
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return Session{}, err
	}
	return s.session(u, sid, token)
}

// Logout ends the session sid of the caller (its access token's): its
// refresh tokens are revoked, and its access tokens refused from now on.
func (s *Service) Logout(ctx context.Context, a delivery.Actor, sid string) error {
	if sid == "" { // Verify refuses such tokens
		return delivery.Errorf(delivery.EUNAUTHORIZED, "token without session")
	}
	if err := s.store.RevokeSession(ctx, a.UserID, sid, s.now()); err != nil {
		return err
	}
	s.announce(ctx, sid)
	return nil
}

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context, a delivery.Actor) (delivery.User, error) {
	return s.store.UserByID(ctx, a.UserID)
}

// startSession starts a session: its id is the family of its refresh
// tokens, and the sid of its access tokens.
func (s *Service) startSession(ctx context.Context, u delivery.User, family string) (Session, error) {
	token, hash, err := auth.NewRefreshToken()
	if err != nil {
		return Session{}, err
	}
	rt := delivery.RefreshToken{Hash: hash, UserID: u.ID, FamilyID: family, ExpiresAt: s.now().Add(RefreshTTL)}
	if err := s.store.CreateRefreshToken(ctx, rt); err != nil {
		return Session{}, err
	}
	return s.session(u, family, token)
}

func (s *Service) session(u delivery.User, sid, refreshToken string) (Session, error) {
	access, _, err := s.tokens.Issue(u, sid)
	if err != nil {
		return Session{}, err
	}
	return Session{
		User:         u,
		AccessToken:  access,
		RefreshToken: refreshToken,
		TokenType:    "Bearer",
		ExpiresIn:    int(s.tokens.TTL() / time.Second),
	}, nil
}

func normalizeEmail(raw string) (string, error) {
	email, err := delivery.CheckText("email", strings.ToLower(raw), delivery.TextRule{Max: MaxEmailLen, Required: true})
	if err != nil {
		return "", err
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email {
		return "", delivery.Errorf(delivery.EINVALID, "email: not a valid address")
	}
	return email, nil
}

func checkPassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLen {
		return delivery.Errorf(delivery.EINVALID, "password: at least %d characters", MinPasswordLen)
	}
	if len(pw) > auth.MaxPasswordLen {
		return delivery.Errorf(delivery.EINVALID, "password: at most %d bytes", auth.MaxPasswordLen)
	}
	return nil
}

// nameRule is what a person's or a restaurant's name may be.
var nameRule = delivery.TextRule{Max: MaxNameLen, Required: true}
