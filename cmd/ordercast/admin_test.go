package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/store/postgres"
)

// runAdmin runs ordercast admin with args on env, password on standard
// input, and returns its output and error.
func runAdmin(t *testing.T, env map[string]string, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := adminMain(t.Context(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return out.String() + errOut.String(), err
}

// status answers an API call with its status only.
func status(t *testing.T, base, token, method, path, body string) int {
	t.Helper()
	code, _ := request(t, base, token, method, path, body)
	return code
}

// openSocket opens /ws with token and returns a channel that gets the
// socket's close code once it ends.
func openSocket(t *testing.T, base, token string) <-chan websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws?access_token="+token, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	closed := make(chan websocket.StatusCode, 1)
	go func() { // reads until the socket ends: the test's cleanup ends it at the latest
		for {
			if _, _, err := conn.Read(context.Background()); err != nil {
				closed <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	t.Cleanup(func() { _ = conn.CloseNow() })
	return closed
}

// closedCode waits for a socket to end and returns its code. The deadline
// is far past the contract's 2 s, which is a latency figure, not a test
// assertion: a loaded machine must not fail the test on time alone.
func closedCode(t *testing.T, closed <-chan websocket.StatusCode) websocket.StatusCode {
	t.Helper()
	const deadline = 15 * time.Second
	select {
	case code := <-closed:
		return code
	case <-time.After(deadline):
		t.Fatalf("socket still open %v after its sessions ended", deadline)
	}
	return 0
}

// stillOpen checks that a socket has not ended.
func stillOpen(t *testing.T, closed <-chan websocket.StatusCode) {
	t.Helper()
	select {
	case code := <-closed:
		t.Fatalf("a socket that should be open was closed (%d)", code)
	default:
	}
}

func sqliteEnv(t *testing.T) map[string]string {
	return map[string]string{"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "oc.db")}
}

// ordercast admin create makes an admin who can sign in; it refuses an
// empty or short password, a bad email and a taken one.
func TestAdminCreateThenLogin(t *testing.T) {
	env := sqliteEnv(t)
	for name, c := range map[string]struct {
		stdin string
		args  []string
		want  string
	}{
		"no password":    {"", []string{"create", "--email", "root@example.com", "--name", "Root"}, "no password"},
		"empty line":     {"\n", []string{"create", "--email", "root@example.com", "--name", "Root"}, "no password"},
		"short password": {"short\n", []string{"create", "--email", "root@example.com", "--name", "Root"}, "at least 8 characters"},
		"bad email":      {"long enough pw\n", []string{"create", "--email", "root", "--name", "Root"}, "not a valid address"},
		"no name":        {"long enough pw\n", []string{"create", "--email", "root@example.com"}, "name"},
		"no email":       {"long enough pw\n", []string{"create", "--name", "Root"}, "--email is required"},
		"no command":     {"", nil, "create or revoke"},
	} {
		if out, err := runAdmin(t, env, c.stdin, c.args...); err == nil || !strings.Contains(err.Error()+out, c.want) {
			t.Errorf("%s: err %v, output %q; want an error saying %q", name, err, out, c.want)
		}
	}
	out, err := runAdmin(t, env, "an admin password\r\n", "create", "--email", "Root@Example.com", "--name", "Root")
	if err != nil || !strings.Contains(out, "admin root@example.com created") {
		t.Fatalf("admin create: %v %q", err, out)
	}
	if _, err := runAdmin(t, env, "an admin password\n", "create", "--email", "root@example.com", "--name", "Again"); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("second admin with the email: %v", err)
	}

	base, _ := startProgram(t, env)
	var s struct {
		AccessToken string `json:"access_token"`
		User        struct {
			Role string `json:"role"`
		} `json:"user"`
	}
	body := `{"email":"root@example.com","password":"an admin password"}`
	if err := json.Unmarshal(apiCall(t, base, "", "POST", "/auth/login", body), &s); err != nil {
		t.Fatal(err)
	}
	if s.User.Role != "admin" {
		t.Fatalf("signed in as %q, want admin", s.User.Role)
	}
	var me struct {
		Role string `json:"role"`
	}
	if err := json.Unmarshal(apiCall(t, base, s.AccessToken, "GET", "/me", ""), &me); err != nil || me.Role != "admin" {
		t.Fatalf("/me: %+v %v", me, err)
	}
}

// ordercast admin revoke, on the store of a running instance without
// Redis: every session of the user ends (tokens 401, refresh 401), its
// sockets are closed with 4001 within 2 s by the instance's periodic
// read, and other users keep theirs.
func TestAdminRevokeWithoutRedis(t *testing.T) {
	env := sqliteEnv(t)
	base, _ := startProgram(t, env)
	testAdminRevoke(t, env, base, "no Redis configured")
}

// With Redis the instances are told at once.
func TestAdminRevokeOverRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	env := sqliteEnv(t)
	env["REDIS_URL"] = "redis://" + srv.Addr + "/0"
	base, _ := startProgram(t, env)
	testAdminRevoke(t, env, base, "told over Redis")
}

// On two programs that share one PostgreSQL database and one Redis, as
// the instances of a deployment do: a session started on one instance
// ends on both, its sockets on each closed with 4001 and its
// access tokens 401 on each; another user's socket and token stay.
func TestAdminRevokeOnTwoProgramsOverRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	env := map[string]string{
		"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": postgres.SharedTestURL(t),
		"REDIS_URL": "redis://" + srv.Addr + "/0", "JWT_SECRET": "a-secret-both-instances-share-0123456789",
	}
	start := func() string {
		own := maps.Clone(env)
		own["DATA_DIR"] = t.TempDir()
		base, _ := startProgram(t, own)
		return base
	}
	a, b := start(), start()
	first := register(t, a, "ann@example.com", "customer", "")
	second := login(t, b, "ann@example.com")
	other := register(t, b, "bo@example.com", "customer", "")
	sockets := map[string]<-chan websocket.StatusCode{
		"first session on a": openSocket(t, a, first), "first session on b": openSocket(t, b, first),
		"second session on b": openSocket(t, b, second),
	}
	closedOther := openSocket(t, a, other)

	out, err := runAdmin(t, env, "", "revoke", "--email", "ann@example.com")
	if err != nil || !strings.Contains(out, "ended 2 session(s) of ann@example.com") || !strings.Contains(out, "told over Redis") {
		t.Fatalf("admin revoke: %v %q", err, out)
	}
	for name, closed := range sockets {
		if code := closedCode(t, closed); code != 4001 {
			t.Errorf("socket of the %s closed with %d, want 4001", name, code)
		}
	}
	for name, base := range map[string]string{"a": a, "b": b} {
		for _, tok := range []string{first, second} {
			if got := status(t, base, tok, "GET", "/me", ""); got != http.StatusUnauthorized {
				t.Errorf("token of an ended session on %s: %d, want 401", name, got)
			}
		}
		if got := status(t, base, other, "GET", "/me", ""); got != http.StatusOK {
			t.Errorf("another user's token on %s: %d, want 200", name, got)
		}
	}
	stillOpen(t, closedOther)
}

func testAdminRevoke(t *testing.T, env map[string]string, base, wantOutput string) {
	t.Helper()
	first := register(t, base, "ann@example.com", "customer", "")
	second := login(t, base, "ann@example.com")
	other := register(t, base, "bo@example.com", "customer", "")
	closedFirst, closedSecond, closedOther := openSocket(t, base, first), openSocket(t, base, second), openSocket(t, base, other)
	var pair struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(apiCall(t, base, "", "POST", "/auth/login", `{"email":"ann@example.com","password":"long enough pw"}`), &pair); err != nil {
		t.Fatal(err)
	}

	out, err := runAdmin(t, env, "", "revoke", "--email", "ann@example.com")
	if err != nil || !strings.Contains(out, "ended 3 session(s) of ann@example.com") || !strings.Contains(out, wantOutput) {
		t.Fatalf("admin revoke: %v %q", err, out)
	}
	for name, closed := range map[string]<-chan websocket.StatusCode{"first": closedFirst, "second": closedSecond} {
		if code := closedCode(t, closed); code != 4001 {
			t.Errorf("%s session's socket closed with %d, want 4001", name, code)
		}
	}
	for _, tok := range []string{first, second} {
		if got := status(t, base, tok, "GET", "/me", ""); got != http.StatusUnauthorized {
			t.Errorf("token of an ended session: %d, want 401", got)
		}
	}
	if got := status(t, base, "", "POST", "/auth/refresh", fmt.Sprintf(`{"refresh_token":%q}`, pair.RefreshToken)); got != http.StatusUnauthorized {
		t.Errorf("refresh of an ended session: %d, want 401", got)
	}
	stillOpen(t, closedOther)
	if got := status(t, base, other, "GET", "/me", ""); got != http.StatusOK {
		t.Errorf("another user's token: %d, want 200", got)
	}
	// Signing in again starts a new session.
	if got := status(t, base, login(t, base, "ann@example.com"), "GET", "/me", ""); got != http.StatusOK {
		t.Errorf("a session started after the revocation: %d, want 200", got)
	}
	if _, err := runAdmin(t, env, "", "revoke", "--email", "nobody@example.com"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("revoke of an unknown user: %v", err)
	}
}
