//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/testenv"
)

// The README's walkthrough (docs/walkthrough.sh) runs to its end against
// the program, and runs again on the same server: every run signs up
// users of its own.
func TestWalkthroughRunsTwice(t *testing.T) {
	requireWalkthroughTools(t, "go")
	// The script's websocket step runs `ordercast watch`: the real binary.
	bin := filepath.Join(t.TempDir(), "ordercast")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	base := startWatchTestProgram(t)

	for run := 1; run <= 2; run++ {
		out, stderr, err := runWalkthrough(t, base, bin)
		if err != nil {
			t.Fatalf("run %d: %v\n%s\nstderr:\n%s", run, err, out, stderr)
		}
		// The delivery, seq 8, seen in the REST log and over the websocket.
		if n := strings.Count(out, `[8,"order.status","delivered"]`); n != 2 {
			t.Fatalf("run %d: the delivery appears %d times, want 2 (REST log and watch)\n%s", run, n, out)
		}
		if !strings.Contains(out, "== Done: order ") {
			t.Fatalf("run %d did not reach its end:\n%s", run, out)
		}
	}
}

// TestWalkthroughFailsLoudly: a walkthrough whose first request is refused
// (the email is taken) or finds no server stops there with a status other
// than 0, and says on stderr which request failed and why: the server's
// error body, or curl's reason.
func TestWalkthroughFailsLoudly(t *testing.T) {
	requireWalkthroughTools(t)
	const taken = `{"error":{"code":"email_taken","message":"an account with this email already exists"}}`
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/auth/register" {
			t.Errorf("the walkthrough went on to %s %s after a refusal", r.Method, r.URL.Path)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(taken))
	}))
	defer refusing.Close()
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := "http://" + l.Addr().String()
	l.Close()

	for _, c := range []struct {
		name, base string
		want       []string // on stderr
	}{
		{"registration refused", refusing.URL, []string{"walkthrough: POST /auth/register failed: " + taken}},
		{"no server", nobody, []string{"walkthrough: POST /auth/register failed", "curl: (7)"}},
	} {
		out, stderr, err := runWalkthrough(t, c.base, "")
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Errorf("%s: the walkthrough ended with %v, want a non-zero exit status\n%s\nstderr:\n%s", c.name, err, out, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr does not say %q:\n%s", c.name, w, stderr)
			}
		}
		if strings.Contains(out, "== The restaurant adds") {
			t.Errorf("%s: the walkthrough went on after the failure:\n%s", c.name, out)
		}
	}
}

// requireWalkthroughTools skips the test when a tool the walkthrough needs
// (bash, curl, jq, and more) is missing, or fails it under CI=true.
func requireWalkthroughTools(t *testing.T, more ...string) {
	t.Helper()
	for _, tool := range append([]string{"bash", "curl", "jq"}, more...) {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool+" not on the PATH (the walkthrough script needs it)")
		}
	}
}

// runWalkthrough runs docs/walkthrough.sh against base (with bin as its
// ordercast binary, if set) within two minutes.
func runWalkthrough(t *testing.T, base, bin string) (stdout, stderr string, err error) {
	t.Helper()
	script, err := filepath.Abs("../../docs/walkthrough.sh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), "ORDERCAST_URL="+base, "ORDERCAST_BIN="+bin)
	// On timeout the whole group goes, watch included, so that no child
	// keeps the output pipes open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}
