//go:build unix

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's walkthrough (docs/walkthrough.sh) runs to its end against
// the program, and runs again on the same server: every run signs up
// users of its own.
func TestWalkthroughRunsTwice(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found (required when CI=true)", tool)
			}
			t.Skipf("%s not found (required when CI=true)", tool)
		}
	}
	// The script's websocket step runs `ordercast watch`: the real binary.
	bin := filepath.Join(t.TempDir(), "ordercast")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	base := startWatchTestProgram(t)
	script, err := filepath.Abs("../../docs/walkthrough.sh")
	if err != nil {
		t.Fatal(err)
	}

	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", script)
		cmd.Env = append(os.Environ(), "ORDERCAST_URL="+base, "ORDERCAST_BIN="+bin)
		// On timeout the whole group goes, watch included, so that no
		// child keeps the output pipe open.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		// The delivery, seq 8, seen in the REST log and over the websocket.
		if n := strings.Count(string(out), `[8,"order.status","delivered"]`); n != 2 {
			t.Fatalf("run %d: the delivery appears %d times, want 2 (REST log and watch)\n%s", run, n, out)
		}
		if !strings.Contains(string(out), "== Done: order ") {
			t.Fatalf("run %d did not reach its end:\n%s", run, out)
		}
	}
}
