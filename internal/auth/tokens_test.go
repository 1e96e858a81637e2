package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

const (
	testIssuer   = "ordercast"
	testAudience = "ordercast-api"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable time source shared by a Tokens and its test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// newTokens returns Tokens with the test secret on a clock that stands
// still until the test moves it.
func newTokens(t *testing.T) (*auth.Tokens, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	tok := auth.NewTokens(testSecret, testIssuer, testAudience, 15*time.Minute)
	auth.SetClock(tok, c.Now)
	return tok, c
}

var (
	customer   = delivery.User{ID: 7, Role: delivery.RoleCustomer}
	restaurant = delivery.User{ID: 8, Role: delivery.RoleRestaurant, RestaurantID: 3}
)

func mustIssue(t *testing.T, tok *auth.Tokens, u delivery.User) string {
	t.Helper()
	s, _, err := tok.Issue(u, testSession)
	if err != nil {
		t.Fatalf("Issue(%+v): %v", u, err)
	}
	return s
}

// testSession is the sid of the tokens the tests issue.
const testSession = "session-1"

// sign makes a token the way an attacker or a foreign service would.
func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validClaims are claims our verifier accepts, at the test clock's time.
func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "7", "role": "customer", "iss": testIssuer, "aud": testAudience,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "x", "sid": testSession,
	}
}

// wantUnauthorized checks that Verify refused token with EUNAUTHORIZED and
// the message want, without echoing the token.
func wantUnauthorized(t *testing.T, tok *auth.Tokens, token, want string) {
	t.Helper()
	c, err := tok.Verify(token)
	if err == nil {
		t.Fatalf("Verify accepted the token: %+v", c)
	}
	if got := delivery.ErrorCode(err); got != delivery.EUNAUTHORIZED {
		t.Errorf("code = %q, want %q (err %v)", got, delivery.EUNAUTHORIZED, err)
	}
	if got := delivery.ErrorMessage(err); got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if token != "" && strings.Contains(err.Error(), token) {
		t.Errorf("error echoes the token: %v", err)
	}
	if c != (auth.Claims{}) {
		t.Errorf("claims = %+v on failure, want zero", c)
	}
}

func TestRoundTrip(t *testing.T) {
	tok, c := newTokens(t)
	if got := tok.TTL(); got != 15*time.Minute {
		t.Errorf("TTL = %v", got)
	}
	for _, u := range []delivery.User{customer, restaurant, {ID: 9, Role: delivery.RoleCourier}, {ID: 1, Role: delivery.RoleAdmin}} {
		s, exp, err := tok.Issue(u, testSession)
		if err != nil {
			t.Fatal(err)
		}
		if want := c.Now().Add(15 * time.Minute); !exp.Equal(want) {
			t.Errorf("expiresAt = %v, want %v", exp, want)
		}
		got, err := tok.Verify(s)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if got.Actor() != u.Actor() {
			t.Errorf("Actor = %+v, want %+v", got.Actor(), u.Actor())
		}
		if !got.ExpiresAt.Equal(exp) {
			t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, exp)
		}
		if got.TokenID == "" {
			t.Error("no jti")
		}
		if got.SessionID != testSession {
			t.Errorf("SessionID = %q, want %q", got.SessionID, testSession)
		}
	}
}

func TestPayloadShape(t *testing.T) {
	tok, c := newTokens(t)
	payload := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(strings.Split(s, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := payload(mustIssue(t, tok, customer))
	if _, ok := m["rid"]; ok {
		t.Errorf("rid present for a customer: %v", m)
	}
	if m["sub"] != "7" || m["role"] != "customer" || m["iss"] != testIssuer || m["sid"] != testSession {
		t.Errorf("payload = %v", m)
	}
	if m["iat"] != float64(c.Now().Unix()) {
		t.Errorf("iat = %v, want %d", m["iat"], c.Now().Unix())
	}
	if m := payload(mustIssue(t, tok, restaurant)); m["rid"] != "3" {
		t.Errorf("rid = %#v, want \"3\"", m["rid"])
	}
}

func TestTokenIDsDiffer(t *testing.T) {
	tok, _ := newTokens(t)
	a, _ := tok.Verify(mustIssue(t, tok, customer))
	b, _ := tok.Verify(mustIssue(t, tok, customer))
	if a.TokenID == b.TokenID {
		t.Errorf("two tokens share jti %q", a.TokenID)
	}
}

func TestExpiry(t *testing.T) {
	tok, c := newTokens(t)
	s := mustIssue(t, tok, customer)
	c.Advance(15*time.Minute - time.Second)
	if _, err := tok.Verify(s); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	c.Advance(time.Minute) // well past exp plus the leeway
	wantUnauthorized(t, tok, s, "token expired")
}

func TestIssuedInTheFuture(t *testing.T) {
	tok, c := newTokens(t)
	cl := validClaims(c.Now())
	cl["iat"] = c.Now().Add(time.Hour).Unix()
	cl["exp"] = c.Now().Add(2 * time.Hour).Unix()
	wantUnauthorized(t, tok, sign(t, jwt.SigningMethodHS256, testSecret, cl), "invalid token")
}

func TestWrongIssuerAudienceSecret(t *testing.T) {
	tok, _ := newTokens(t)
	others := map[string]*auth.Tokens{
		"issuer":   auth.NewTokens(testSecret, "someone-else", testAudience, time.Minute),
		"audience": auth.NewTokens(testSecret, testIssuer, "other-api", time.Minute),
		"secret":   auth.NewTokens([]byte(strings.Repeat("z", 32)), testIssuer, testAudience, time.Minute),
	}
	for name, other := range others {
		t.Run(name, func(t *testing.T) {
			wantUnauthorized(t, tok, mustIssue(t, other, customer), "invalid token")
		})
	}
}

func TestAlgorithmPinned(t *testing.T) {
	tok, c := newTokens(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cl := validClaims(c.Now())
	if _, err := tok.Verify(sign(t, jwt.SigningMethodHS256, testSecret, cl)); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
	tests := map[string]string{
		"none":  sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, cl),
		"RS256": sign(t, jwt.SigningMethodRS256, rsaKey, cl),
		"HS512": sign(t, jwt.SigningMethodHS512, testSecret, cl),
		"HS384": sign(t, jwt.SigningMethodHS384, testSecret, cl),
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) { wantUnauthorized(t, tok, s, "invalid token") })
	}
}

func TestTamperedPayload(t *testing.T) {
	tok, _ := newTokens(t)
	parts := strings.Split(mustIssue(t, tok, customer), ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(b), `"role":"customer"`, `"role":"admin"`, 1)
	if forged == string(b) {
		t.Fatalf("payload has no customer role: %s", b)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	wantUnauthorized(t, tok, strings.Join(parts, "."), "invalid token")
}

func TestBadClaims(t *testing.T) {
	tok, c := newTokens(t)
	tests := map[string]func(jwt.MapClaims){
		"missing exp":             func(m jwt.MapClaims) { delete(m, "exp") },
		"missing iss":             func(m jwt.MapClaims) { delete(m, "iss") },
		"missing aud":             func(m jwt.MapClaims) { delete(m, "aud") },
		"missing sub":             func(m jwt.MapClaims) { delete(m, "sub") },
		"non-numeric sub":         func(m jwt.MapClaims) { m["sub"] = "alice" },
		"zero sub":                func(m jwt.MapClaims) { m["sub"] = "0" },
		"negative sub":            func(m jwt.MapClaims) { m["sub"] = "-4" },
		"missing role":            func(m jwt.MapClaims) { delete(m, "role") },
		"unknown role":            func(m jwt.MapClaims) { m["role"] = "root" },
		"restaurant without rid":  func(m jwt.MapClaims) { m["role"] = "restaurant" },
		"restaurant with bad rid": func(m jwt.MapClaims) { m["role"] = "restaurant"; m["rid"] = "abc" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			cl := validClaims(c.Now())
			mutate(cl)
			wantUnauthorized(t, tok, sign(t, jwt.SigningMethodHS256, testSecret, cl), "invalid token")
		})
	}
}

func TestGarbage(t *testing.T) {
	tok, _ := newTokens(t)
	for _, s := range []string{"", "abc", "a.b.c", strings.Repeat("a", 10000)} {
		wantUnauthorized(t, tok, s, "invalid token")
	}
}

func TestIssueRefusesWhatVerifyWouldReject(t *testing.T) {
	tok, _ := newTokens(t)
	for _, u := range []delivery.User{
		{ID: 0, Role: delivery.RoleCustomer},
		{ID: 1, Role: "root"},
		{ID: 1, Role: delivery.RoleRestaurant},
	} {
		if _, _, err := tok.Issue(u, testSession); err == nil {
			t.Errorf("Issue(%+v) succeeded", u)
		}
	}
	if _, _, err := tok.Issue(customer, ""); err == nil {
		t.Error("Issue without a session succeeded")
	}
}

// A token issued before sessions existed has no sid: refused, so that its
// client refreshes into a session that can be ended.
func TestTokenWithoutSessionRefused(t *testing.T) {
	tok, c := newTokens(t)
	cl := validClaims(c.Now())
	delete(cl, "sid")
	wantUnauthorized(t, tok, sign(t, jwt.SigningMethodHS256, testSecret, cl), "token without session")
}

// SetRevocations is asked on every verification: a revoked session's
// tokens are refused at once, the others still pass.
func TestRevokedSessionRefused(t *testing.T) {
	tok, _ := newTokens(t)
	revoked := map[string]bool{}
	var mu sync.Mutex
	tok.SetRevocations(func(sid string) bool { mu.Lock(); defer mu.Unlock(); return revoked[sid] })
	s := mustIssue(t, tok, customer)
	other, _, err := tok.Issue(customer, "session-2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Verify(s); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	mu.Lock()
	revoked[testSession] = true
	mu.Unlock()
	wantUnauthorized(t, tok, s, "session ended")
	if c, err := tok.Verify(other); err != nil || c.SessionID != "session-2" {
		t.Errorf("the other session: %+v, %v", c, err)
	}
}

func TestNewTokensPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"short secret":    func() { auth.NewTokens(make([]byte, 31), testIssuer, testAudience, time.Minute) },
		"empty issuer":    func() { auth.NewTokens(testSecret, "", testAudience, time.Minute) },
		"empty audience":  func() { auth.NewTokens(testSecret, testIssuer, "", time.Minute) },
		"ttl over MaxTTL": func() { auth.NewTokens(testSecret, testIssuer, testAudience, auth.MaxTTL+time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
	if got := auth.NewTokens(testSecret, testIssuer, testAudience, 0).TTL(); got != auth.DefaultTTL {
		t.Errorf("TTL for 0 = %v, want %v", got, auth.DefaultTTL)
	}
}
