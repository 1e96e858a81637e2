package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingInChild is run by TestMissing in a child process, with the
// environment it sets; alone it does nothing.
func TestMissingInChild(t *testing.T) {
	tty := os.Getenv("TESTENV_TERMINAL")
	if tty == "" {
		return
	}
	terminal = tty
	for range 2 {
		t.Run("needs", func(t *testing.T) { Missing(t, "the thing not found") })
	}
}

func TestMissing(t *testing.T) {
	run := func(ci string) (string, string, error) {
		tty := filepath.Join(t.TempDir(), "tty")
		if err := os.WriteFile(tty, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run", "^TestMissingInChild$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_TERMINAL="+tty, "CI="+ci)
		out, err := cmd.CombinedOutput()
		told, rerr := os.ReadFile(tty)
		if rerr != nil {
			t.Fatal(rerr)
		}
		return string(out), string(told), err
	}

	out, told, err := run("")
	if err != nil {
		t.Fatalf("outside CI the child failed: %v\n%s", err, out)
	}
	if strings.Count(out, "--- SKIP") != 2 {
		t.Errorf("want both subtests skipped:\n%s", out)
	}
	if want := "github.com/ordercast/ordercast/internal/testenv: skipping the tests that need it: the thing not found\n"; told != want {
		t.Errorf("terminal got %q, want %q once", told, want)
	}

	out, told, err = run("true")
	if err == nil || strings.Count(out, "--- FAIL: TestMissingInChild/needs") != 2 {
		t.Errorf("under CI=true want both subtests failed, got err %v:\n%s", err, out)
	}
	if told != "" {
		t.Errorf("under CI=true nothing is told on the terminal, got %q", told)
	}
}
