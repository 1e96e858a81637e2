// Package testenv decides what a test does when something it needs from
// the machine is missing (PostgreSQL, Redis, Chromium, a tool): under
// CI=true it fails, so that CI cannot pass without having run it;
// elsewhere it skips. A skip alone is silent in `go test ./...`, which
// shows a passing package's output only with -v, so the first skip of
// each reason is also written to the terminal.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
)

// CI reports a CI run (CI=true), where nothing may be skipped.
func CI() bool { return os.Getenv("CI") == "true" }

// terminal is where skips are told; a test points it at a file.
var terminal = "/dev/tty"

// told holds the reasons already written to the terminal by this test
// binary.
var told sync.Map

// Missing fails t under CI=true, else skips it; why names what is missing
// and how to provide it.
func Missing(t testing.TB, why string) {
	t.Helper()
	if CI() {
		t.Fatalf("%s (required when CI=true)", why)
	}
	if _, seen := told.LoadOrStore(why, true); !seen {
		tellTerminal(fmt.Sprintf("%s: skipping the tests that need it: %s\n", suite(), why))
	}
	t.Skipf("%s (required when CI=true)", why)
}

// suite names the package under test: a test binary's main package is
// its import path with ".test".
func suite() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Path != "" {
		return strings.TrimSuffix(bi.Path, ".test")
	}
	return strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
}

// tellTerminal writes s to the controlling terminal, when there is one:
// go test captures the test binary's own output.
func tellTerminal(s string) {
	tty, err := os.OpenFile(terminal, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer tty.Close()
	_, _ = tty.WriteString(s)
}
