// Package layout holds the import rules of the module (STYLE.md, "Imports
// run one way"): a test over every non-test Go file, so that a wrong
// import fails CI naming its file instead of waiting for a review. Test
// files are free: a test may wire whatever it tests with.
package layout_test

import (
	"bufio"
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// adapters are the packages that pick a concrete store, bus or location
// store. Only cmd/... imports them and passes them in, internal/app (the
// wiring cmd and the test harnesses share) included.
var adapters = []string{
	"internal/store/sqlite", "internal/store/postgres",
	"internal/bus/memory", "internal/bus/redis",
	"internal/location/memory", "internal/location/redis",
	"internal/ops/redis",
}

// adapterHelpers are the adapters' own test-helper packages (contract
// suites, test servers), which may import them as their tests do.
var adapterHelpers = []string{
	"internal/store/storetest", "internal/bus/bustest",
	"internal/location/locationtest", "internal/bus/redis/redistest",
	"internal/ops/opstest",
}

// wireImports is what internal/wire, the protocol's vocabulary, may
// import of the module: the domain, the JSON checks it shares with the
// REST decoder and the token reader it shares with the publish decoder,
// leaves like the domain.
var wireImports = []string{"internal/delivery", "internal/jsonutf8", "internal/jsonscan"}

// leaves import nothing of the module.
var leaves = []string{"internal/delivery", "internal/jsonutf8", "internal/jsonscan"}

// importRule returns why pkg may not import imp ("" when it may); both
// are paths inside the module.
func importRule(pkg, imp string) string {
	switch {
	case slices.ContainsFunc(leaves, func(l string) bool { return within(pkg, l) }):
		return pkg + " imports nothing of the module"
	case within(pkg, "hub") && within(imp, "server"), within(pkg, "server") && within(imp, "hub"):
		return "hub and server do not import each other"
	case slices.Contains(adapters, imp) && !within(pkg, "cmd") && !slices.Contains(adapterHelpers, pkg):
		return "only cmd/... picks adapters; it passes them in (to internal/app too)"
	case pkg == "internal/wire" && !slices.Contains(wireImports, imp):
		return "internal/wire imports only " + strings.Join(wireImports, " and ") + " of the module"
	}
	return ""
}

// within reports whether pkg is dir or a package below it.
func within(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

func TestImportRules(t *testing.T) {
	root, module := moduleRoot(t)
	pkgs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDir(path, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, _ := filepath.Rel(root, path)
		file = filepath.ToSlash(file)
		pkg := filepath.ToSlash(filepath.Dir(file))
		pkgs[pkg] = true
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return err
			}
			own, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			if why := importRule(pkg, own); why != "" {
				t.Errorf("%s imports %s: %s", file, imp, why)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A rule about a package that moved away would hold of nothing.
	for _, pkg := range slices.Concat([]string{"hub", "server", "internal/wire"}, leaves, adapters, adapterHelpers) {
		if !pkgs[pkg] {
			t.Errorf("the rules name %s, which has no non-test Go file: update them", pkg)
		}
	}
}

// skipDir reports whether the go command ignores the directory, or it is
// another module.
func skipDir(path, name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "node_modules" {
		return true
	}
	_, err := os.Stat(filepath.Join(path, "go.mod"))
	return err == nil
}

// moduleRoot returns the directory of the module's go.mod, above the
// test's, and the module path it declares.
func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
					return dir, strings.Trim(strings.TrimSpace(m), `"`)
				}
			}
			t.Fatalf("%s/go.mod declares no module", dir)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// The rules themselves, on imports the tree may not hold today.
func TestImportRuleCases(t *testing.T) {
	for _, tc := range []struct {
		pkg, imp string
		allowed  bool
	}{
		{"internal/delivery", "internal/wire", false},
		{"internal/delivery", "internal/jsonutf8", false},
		{"internal/jsonutf8", "internal/delivery", false},
		{"hub", "server", false},
		{"hub/sse", "server", false},
		{"server", "hub", false},
		{"server", "hubbub", true},
		{"hub", "internal/wire", true},
		{"cmd/ordercast", "internal/store/sqlite", true},
		{"cmd/ordercast-load", "internal/bus/redis", true},
		{"internal/app", "internal/store/postgres", false},
		{"internal/app", "internal/bus/memory", false},
		{"internal/orders", "internal/location/memory", false},
		{"internal/store/sqlite", "internal/bus/redis", false},
		{"internal/location/redis", "internal/bus/redis", false},
		{"internal/store/sqlite", "internal/store/sqlutil", true},
		{"internal/store/storetest", "internal/store/sqlite", true},
		{"internal/bus/bustest", "internal/bus/memory", true},
		{"internal/location/locationtest", "internal/location/redis", true},
		{"internal/bus/redis/redistest", "internal/bus/redis", true},
		{"internal/wire", "internal/delivery", true},
		{"internal/wire", "internal/jsonutf8", true},
		{"internal/wire", "internal/auth", false},
		{"internal/wire", "hub", false},
	} {
		if why := importRule(tc.pkg, tc.imp); (why == "") != tc.allowed {
			t.Errorf("%s importing %s: allowed=%v (%q), want allowed=%v", tc.pkg, tc.imp, why == "", why, tc.allowed)
		}
	}
}
