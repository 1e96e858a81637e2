package main

// The app's words for the API's error codes (web/app/errors.js), run in
// the browser as the screens run them.

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/browsertest"
)

// TestWebErrorWords: every error code the server sends (the constants of
// internal/delivery/error.go, and the error frame codes of
// internal/wire/wire.go) has words of its own rather than the app's
// fallback sentence; a rate limit says how long to wait, from
// Retry-After on REST or from the message of a websocket error frame; a
// claim beyond the courier's cap names the cap.
func TestWebErrorWords(t *testing.T) {
	b := browsertest.New(t)
	base := startWebProgram(t)
	tab := openTab(t, b, "errors")
	tab.Navigate(base + "/#/signin")
	tab.WaitRole("heading", "Sign in")

	codes := stringConsts(t, "../../internal/delivery/error.go", "E")
	codes = append(codes, stringConsts(t, "../../internal/wire/wire.go", "Code")...)
	if len(codes) < 20 {
		t.Fatalf("found only %d codes: %q", len(codes), codes)
	}
	explain := func(err map[string]any) string {
		t.Helper()
		js, _ := json.Marshal(err)
		return browsertest.Eval[string](tab, `import("/app/errors.js").then((m) => m.explain(`+string(js)+`))`)
	}
	fallback := explain(map[string]any{"code": "no_such_code"})
	for _, code := range codes {
		if got := explain(map[string]any{"code": code, "message": ""}); got == fallback {
			t.Errorf("code %s has no words of its own: %q", code, got)
		}
	}

	for _, c := range []struct {
		err  map[string]any
		want string
	}{
		{map[string]any{"code": "rate_limited", "status": 429, "retryAfter": 3}, "Too many attempts — try again in 3 s."},
		{map[string]any{"code": "rate_limited", "status": 0, "message": "too many chat messages; retry in 2 s"}, "Too many attempts — try again in 2 s."},
		{map[string]any{"code": "too_many_active", "message": "a courier holds at most 3 active orders"},
			"You already have 3 active deliveries, as many as a courier may hold. Deliver one before you claim another."},
		{map[string]any{"code": "too_many_connections", "retryAfter": 5}, "in 5 s."},
		{map[string]any{"code": "unavailable", "retryAfter": 1}, "Try again in 1 s."},
	} {
		if got := explain(c.err); !strings.HasSuffix(got, c.want) {
			t.Errorf("explain(%v) = %q, want it to end with %q", c.err, got, c.want)
		}
	}
	tab.CheckClean()
}

// stringConsts returns the values of the string constants of a Go file
// whose names start with prefix.
func stringConsts(t *testing.T, path, prefix string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, prefix) || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, _ := strconv.Unquote(lit.Value)
					out = append(out, v)
				}
			}
		}
	}
	return out
}
