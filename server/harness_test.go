package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/accounts"
	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/bus/memory"
	"github.com/ordercast/ordercast/internal/delivery"
	locmemory "github.com/ordercast/ordercast/internal/location/memory"
	"github.com/ordercast/ordercast/internal/orders"
	"github.com/ordercast/ordercast/internal/outbox"
	"github.com/ordercast/ordercast/internal/sessions"
	"github.com/ordercast/ordercast/internal/store/postgres"
	"github.com/ordercast/ordercast/internal/store/sqlite"
	"github.com/ordercast/ordercast/server"
)

func TestMain(m *testing.M) {
	auth.BcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

var testSecret = []byte("test-secret-test-secret-test-secret-0123")

// testEnv is a whole server on a real listener over a real store.
type testEnv struct {
	t      testing.TB
	URL    string
	Store  app.Store
	Tokens *auth.Tokens
	Orders *orders.Service
	Server *server.Server
	Hub    *hub.Hub
	App    *app.App
	// Sessions is the list of ended sessions its tokens are checked
	// against, as cmd/ordercast wires it.
	Sessions *sessions.List
	logs     *syncBuffer
	seq      atomic.Int64
}

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// storeFactories are the engines server tests run on, each in a subtest:
// the PostgreSQL one skips without TEST_DATABASE_URL (fails under CI=true).
func storeFactories() map[string]func(testing.TB) app.Store {
	return map[string]func(testing.TB) app.Store{
		"sqlite":   func(t testing.TB) app.Store { return sqlite.OpenTest(t) },
		"postgres": func(t testing.TB) app.Store { return postgres.OpenTest(t) },
	}
}

// newTestEnv starts an instance on SQLite; edit may change its Config.
func newTestEnv(t testing.TB, edit ...func(*app.Config)) *testEnv {
	return newTestEnvOn(t, sqlite.OpenTest(t), edit...)
}

func newTestEnvOn(t testing.TB, store app.Store, edit ...func(*app.Config)) *testEnv {
	t.Helper()
	return newTestEnvWith(t, store, newSessionList(t, store, sessions.Options{}), edit...)
}

// newSessionList is a started list of ended sessions on store.
func newSessionList(t testing.TB, store app.Store, opt sessions.Options) *sessions.List {
	t.Helper()
	list := sessions.New(store, opt)
	if err := list.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(list.Close) // after the instance's shutdown
	return list
}

// newTestEnvWith is newTestEnvOn checking tokens against list: one
// instance wired by internal/app as cmd/ordercast wires it, on the
// in-process bus unless edit picks another.
func newTestEnvWith(t testing.TB, store app.Store, list *sessions.List, edit ...func(*app.Config)) *testEnv {
	t.Helper()
	tokens := auth.NewTokens(testSecret, "ordercast", "ordercast-api", time.Minute)
	tokens.SetRevocations(list.Revoked)
	logs := &syncBuffer{}
	cfg := app.Config{
		Store:     store,
		Bus:       memory.New(),
		Locations: locmemory.New(),
		Tokens:    tokens,
		Sessions:  list,
		Outbox:    outbox.Config{Interval: 50 * time.Millisecond},
		Server:    server.Config{HubAPIKey: testAPIKey},
		Log:       zerolog.New(logs),
	}
	for _, e := range edit {
		e(&cfg)
	}
	inst, err := app.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- inst.Server.Serve(ln) }()
	t.Cleanup(func() {
		if err := inst.Shutdown(10*time.Second, 5*time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
		inst.Close()
		_ = cfg.Bus.Close()
	})
	return &testEnv{t: t, URL: "http://" + ln.Addr().String(), Store: store, Tokens: tokens, Orders: inst.Orders, Server: inst.Server,
		Hub: inst.Hub, App: inst, Sessions: list, logs: logs}
}

// response is a decoded answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// errorCode returns the code of an API error answer, failing the test if
// the body is not the one error shape.
func (r response) errorCode(t testing.TB) string {
	t.Helper()
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	r.decode(t, &body)
	if body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("not an error body: %s", r.Body)
	}
	return body.Error.Code
}

// do sends a request; body is JSON-encoded unless it is a string or []byte.
// headers are name, value pairs.
func (e *testEnv) do(method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
		return e.send(method, path, token, "", "", headers...)
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	return e.send(method, path, token, "application/json", string(raw), headers...)
}

// headOnly sends a request head announcing a JSON body of length bytes,
// and none of the body, and reads the answer.
func (e *testEnv) headOnly(method, path string, length int) response {
	e.t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.URL, "http://"), waitTimeout)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", method, path, length); err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read the answer: %v", method, path, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// send posts body as it is with the given Content-Type ("" sends none).
func (e *testEnv) send(method, path, token, contentType, body string, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// must sends a request and fails the test unless it answers want.
func (e *testEnv) must(want int, method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	r := e.do(method, path, token, body, headers...)
	if r.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// party is a registered user with a token.
type party struct {
	User         delivery.User
	Token        string
	RefreshToken string
}

func (e *testEnv) register(role delivery.Role) party {
	e.t.Helper()
	n := e.seq.Add(1)
	req := map[string]any{
		"email":    fmt.Sprintf("%s%d@example.com", role, n),
		"password": "correct horse battery",
		"name":     fmt.Sprintf("%s %d", role, n),
		"role":     role,
	}
	if role == delivery.RoleRestaurant {
		req["restaurant_name"] = fmt.Sprintf("Kitchen %d", n)
	}
	var s accounts.Session
	e.must(http.StatusCreated, "POST", "/api/v1/auth/register", "", req).decode(e.t, &s)
	return party{User: s.User, Token: s.AccessToken, RefreshToken: s.RefreshToken}
}

// world is one restaurant with a menu, a customer and two couriers.
type world struct {
	Restaurant party
	Customer   party
	Courier    party
	Courier2   party
	Items      []delivery.MenuItem
}

func (e *testEnv) newWorld() world {
	e.t.Helper()
	w := world{
		Restaurant: e.register(delivery.RoleRestaurant),
		Customer:   e.register(delivery.RoleCustomer),
		Courier:    e.register(delivery.RoleCourier),
		Courier2:   e.register(delivery.RoleCourier),
	}
	for _, it := range []map[string]any{{"name": "Pizza", "price_cents": 1250}, {"name": "Soda", "price_cents": 300}} {
		var item delivery.MenuItem
		e.must(http.StatusCreated, "POST", menuPath(w.Restaurant.User.RestaurantID), w.Restaurant.Token, it).decode(e.t, &item)
		w.Items = append(w.Items, item)
	}
	return w
}

func menuPath(rid delivery.ID) string { return "/api/v1/restaurants/" + rid.String() + "/menu" }
func orderPath(id delivery.ID) string { return "/api/v1/orders/" + id.String() }

// place places an order of one pizza and two sodas.
func (e *testEnv) place(w world) delivery.Order {
	e.t.Helper()
	var o delivery.Order
	e.must(http.StatusCreated, "POST", "/api/v1/orders", w.Customer.Token, placeBody(w),
		"Idempotency-Key", fmt.Sprintf("key-%d", e.seq.Add(1))).decode(e.t, &o)
	return o
}

func placeBody(w world) map[string]any {
	return map[string]any{
		"restaurant_id":    w.Restaurant.User.RestaurantID,
		"items":            []map[string]any{{"menu_item_id": w.Items[0].ID, "quantity": 1}, {"menu_item_id": w.Items[1].ID, "quantity": 2}},
		"delivery_address": "1 Main St",
	}
}

// setStatus moves an order and fails the test unless it answers want.
func (e *testEnv) setStatus(want int, o delivery.Order, p party, status delivery.Status, reason string) response {
	e.t.Helper()
	body := map[string]any{"status": status}
	if reason != "" {
		body["reason"] = reason
	}
	return e.must(want, "POST", orderPath(o.ID)+"/status", p.Token, body)
}
