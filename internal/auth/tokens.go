// Package auth issues and verifies access tokens (JWT, HS256), hashes
// passwords and creates refresh tokens. It knows nothing of HTTP or storage:
// the server turns its *delivery.Error values into statuses, and the store
// keeps password and refresh-token hashes.
package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ordercast/ordercast/internal/delivery"
)

// DefaultTTL is the access-token lifetime of API.md; NewTokens uses it when
// given a ttl <= 0.
const DefaultTTL = 15 * time.Minute

// MaxTTL is the longest access-token lifetime NewTokens accepts.
const MaxTTL = time.Hour

// RevocationHorizon is how long after its session ended an access token
// could still pass every other check of Verify: the longest lifetime, plus
// a minute for the clock leeway and for a token issued by a refresh that
// committed just before the session ended. A revoked session must be
// remembered that long, and no longer.
const RevocationHorizon = MaxTTL + time.Minute

// Issuer and Audience are the iss and aud of the server's access tokens:
// a token of another service is refused. A tool that signs tokens the
// server must accept (cmd/ordercast-load -seed) uses them too.
const (
	Issuer   = "ordercast"
	Audience = "ordercast-api"
)

// MinSecretLen is the shortest HS256 key accepted: RFC 7518 §3.2 requires a
// key at least as long as the hash output (256 bits).
const MinSecretLen = 32

const (
	// leeway absorbs clock skew between instances of the service.
	leeway = 5 * time.Second
	// maxTokenLen bounds the work an attacker can make Verify do; real
	// tokens are a few hundred bytes.
	maxTokenLen = 4096
)

// Tokens issues and verifies access tokens. It is safe for concurrent use.
type Tokens struct {
	secret   []byte
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time // replaced in tests, so that expiry needs no sleep
	parser   *jwt.Parser
	// revoked reports ended sessions (SetRevocations); nil: none.
	revoked func(sid string) bool
}

// NewTokens returns a token issuer and verifier. It panics if secret is
// shorter than MinSecretLen, ttl longer than MaxTTL, or issuer or
// audience is empty: those are
// configuration bugs that must stop the program at startup, and an empty
// issuer or audience would silently switch off the iss/aud checks.
// LoadOrCreateSecret never returns a short secret, so main gets an error
// from it instead of reaching this panic.
func NewTokens(secret []byte, issuer, audience string, ttl time.Duration) *Tokens {
	if len(secret) < MinSecretLen {
		panic(fmt.Sprintf("auth: secret must be at least %d bytes, got %d", MinSecretLen, len(secret)))
	}
	if issuer == "" || audience == "" {
		panic("auth: issuer and audience must not be empty")
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if ttl > MaxTTL {
		panic(fmt.Sprintf("auth: ttl %v is longer than %v", ttl, MaxTTL))
	}
	t := &Tokens{
		secret:   append([]byte(nil), secret...), // the caller may reuse its slice
		issuer:   issuer,
		audience: audience,
		ttl:      ttl,
		now:      time.Now,
	}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), // pinned: no "none", no RS/ES key confusion, no HS512
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(func() time.Time { return t.now() }),
	)
	return t
}

// TTL is the lifetime of issued access tokens (the API's expires_in).
func (t *Tokens) TTL() time.Duration { return t.ttl }

// SetRevocations makes Verify refuse the tokens of every session for which
// revoked reports true (internal/sessions keeps that list in memory: it is
// asked on every verification). Call it before the tokens are used.
func (t *Tokens) SetRevocations(revoked func(sid string) bool) { t.revoked = revoked }

// tokenClaims is the JWT payload: sub, iss, aud, iat, exp, jti from the
// registered claims, plus role, rid (restaurant staff only) and sid.
type tokenClaims struct {
	Role delivery.Role `json:"role"`
	RID  delivery.ID   `json:"rid,omitempty"` // a decimal string, like every ID on the wire
	SID  string        `json:"sid,omitempty"`
	jwt.RegisteredClaims
}

// Issue returns a signed access token for u in the session sid and the
// time it expires. It fails, with an internal (not client-facing) error,
// for a token that could not pass Verify: no session, no user id, an
// unknown role, or restaurant staff without a restaurant.
func (t *Tokens) Issue(u delivery.User, sid string) (token string, expiresAt time.Time, err error) {
	if err := checkActor(u.Actor()); err != nil {
		return "", time.Time{}, fmt.Errorf("auth: cannot issue token for user %d: %s", u.ID, err)
	}
	if sid == "" {
		return "", time.Time{}, fmt.Errorf("auth: cannot issue token for user %d: no session", u.ID)
	}
	jti, err := randomString(16)
	if err != nil {
		return "", time.Time{}, err
	}
	now := t.now()
	// NumericDate has whole seconds; return the truncated time so that
	// expiresAt equals what Verify will report.
	exp := jwt.NewNumericDate(now.Add(t.ttl))
	claims := tokenClaims{
		Role: u.Role,
		RID:  u.RestaurantID,
		SID:  sid,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   u.ID.String(),
			Issuer:    t.issuer,
			Audience:  jwt.ClaimStrings{t.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: exp,
			ID:        jti,
		},
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return token, exp.Time, nil
}

// Verify checks the signature, algorithm, exp, iat, iss and aud of token,
// that it names a session and that the session was not revoked, and
// returns its claims. Every failure is a *delivery.Error with code
// EUNAUTHORIZED; its message says why but never contains the token. A
// token without a session (issued before sessions existed) is refused: its
// client refreshes and gets one with a session.
func (t *Tokens) Verify(token string) (Claims, error) {
	if len(token) > maxTokenLen {
		return Claims{}, errInvalidToken
	}
	var tc tokenClaims
	_, err := t.parser.ParseWithClaims(token, &tc, func(*jwt.Token) (any, error) {
		// WithValidMethods has already rejected every alg but HS256.
		return t.secret, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, delivery.Errorf(delivery.EUNAUTHORIZED, "token expired")
	case err != nil:
		return Claims{}, errInvalidToken
	}
	uid, err := delivery.ParseID(tc.Subject)
	if err != nil {
		return Claims{}, errInvalidToken
	}
	c := Claims{
		UserID:       uid,
		Role:         tc.Role,
		RestaurantID: tc.RID,
		ExpiresAt:    tc.ExpiresAt.Time,
		TokenID:      tc.ID,
		SessionID:    tc.SID,
	}
	if checkActor(c.Actor()) != nil {
		return Claims{}, errInvalidToken
	}
	if c.SessionID == "" {
		return Claims{}, delivery.Errorf(delivery.EUNAUTHORIZED, "token without session")
	}
	if t.revoked != nil && t.revoked(c.SessionID) {
		return Claims{}, delivery.Errorf(delivery.EUNAUTHORIZED, "session ended")
	}
	return c, nil
}

// errInvalidToken is deliberately vague: telling a client which check
// failed helps forgers more than honest clients, who only need to know
// that they must log in again. Expiry is the exception (refresh, then retry).
var errInvalidToken = delivery.Errorf(delivery.EUNAUTHORIZED, "invalid token")

// checkActor states what every token's subject must be, on both sides:
// Issue refuses to sign what Verify would reject.
func checkActor(a delivery.Actor) error {
	switch {
	case a.UserID <= 0:
		return errors.New("no user id")
	case !a.Role.Valid():
		return errors.New("unknown role")
	case a.RestaurantID < 0:
		return errors.New("negative restaurant id")
	case a.Role == delivery.RoleRestaurant && a.RestaurantID == 0:
		return errors.New("restaurant staff without restaurant id")
	}
	return nil
}

// Claims is what a verified access token says about its bearer.
type Claims struct {
	UserID       delivery.ID
	Role         delivery.Role
	RestaurantID delivery.ID // set only for restaurant staff
	ExpiresAt    time.Time
	TokenID      string // jti
	SessionID    string // sid: the session (refresh-token family) it belongs to
	// Order is set for a viewer only (Role delivery.RoleViewer, no
	// UserID): the order of its tracking link, whose session is
	// delivery.TrackSession. A viewer's ExpiresAt is zero while the order
	// is active: its link expires only after the order ended.
	Order delivery.ID
}

// Actor returns the bearer as the caller of an operation.
func (c Claims) Actor() delivery.Actor {
	return delivery.Actor{UserID: c.UserID, Role: c.Role, RestaurantID: c.RestaurantID, Order: c.Order}
}

// randomString returns n random bytes, base64url without padding.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
