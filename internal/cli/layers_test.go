package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// Imports flow one way: the command layer uses web, web uses runner, runner
// uses the add-ons, the parsers and the internal helpers — never back up.
// A package may import its own layer or a lower one. The test helpers
// (internal/testutil, and the xxxtest fakes and sinks) are imported by
// tests only: go list's Imports leaves test files out, so none may appear.
func TestImportsFlowOneWay(t *testing.T) {
	t.Parallel()
	const mod = "github.com/dynobox/dynobox"
	layer := func(pkg string) int {
		p := strings.TrimPrefix(strings.TrimPrefix(pkg, mod), "/")
		switch {
		case p == "" || strings.HasPrefix(p, "bench/") || p == "e2e":
			return 5 // the binary, the benchmark tools, the end-to-end tests
		case p == "internal/cli":
			return 4
		case strings.HasPrefix(p, "web/"):
			return 3
		case p == "runner" || strings.HasPrefix(p, "runner/"):
			return 2
		}
		return 1 // addons, procfile, internal/proc, internal/ports
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, mod+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		seen++
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, mod+"/") && layer(imp) > layer(f[0]) {
				t.Errorf("%s imports %s, a layer above it", f[0], imp)
			}
			if testOnly(imp) {
				t.Errorf("%s imports %s, a package for tests only", f[0], imp)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list listed %d packages:\n%s", seen, out)
	}
}

// testOnly reports whether pkg is one of dynobox's helpers for tests only.
func testOnly(pkg string) bool {
	return strings.HasPrefix(pkg, "github.com/dynobox/dynobox/") &&
		(strings.HasSuffix(pkg, "/internal/testutil") || strings.HasSuffix(pkg, "test"))
}
