package build

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// goApp is a module with a root main package, a cmd/ main package and a
// library: no dependencies, so it builds offline.
func goApp(t *testing.T, gomod string) string {
	t.Helper()
	app := t.TempDir()
	writeFiles(t, app, map[string]string{
		"go.mod":              gomod,
		"main.go":             "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"web v1\") }\n",
		"cmd/worker/main.go":  "package main\n\nimport \"example.com/shop/internal/lib\"\n\nfunc main() { println(lib.Name) }\n",
		"internal/lib/lib.go": "package lib\n\nconst Name = \"worker\"\n",
	})
	return app
}

const shopMod = "module example.com/shop\n\ngo 1.22\n"

func setVersion(t *testing.T, app, v string) {
	t.Helper()
	writeFiles(t, app, map[string]string{
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"web " + v + "\") }\n",
	})
}

func TestGoBuildNamesBinariesLikeHeroku(t *testing.T) {
	app := goApp(t, shopMod)
	plan, err := Detect(app)
	if err != nil || plan.Kind != Go {
		t.Fatalf("Detect = %+v, %v", plan, err)
	}
	res, logs := mustBuild(t, app, plan, Options{})
	// The root package is named after the module path, the other after its
	// directory, as go install (and so Heroku's Go buildpack) names them.
	if !slices.Equal(res.Binaries, []string{"shop", "worker"}) {
		t.Fatalf("Binaries = %v", res.Binaries)
	}
	if got := runBin(t, filepath.Join(app, "bin/shop")); got != "web v1" {
		t.Fatalf("bin/shop printed %q", got)
	}
	if res.ID != "b1" || res.Kind != Go || res.Duration <= 0 || res.Started.IsZero() {
		t.Fatalf("result %+v", res)
	}
	for _, want := range []string{"-----> Running: go build -tags heroku -o bin/ ./...", "       bin/worker", "succeeded"} {
		if !strings.Contains(logs.text(), want) || !strings.Contains(res.Output, want) {
			t.Errorf("log and Output should contain %q:\n%s", want, logs.text())
		}
	}
	if _, err := os.Stat(filepath.Join(app, ".dynobox/builds/b1/bin/worker")); err != nil {
		t.Fatalf("artifact not kept: %v", err)
	}
}

func TestGoInstallDirectiveAndEnv(t *testing.T) {
	slow(t, "real Go builds")
	app := goApp(t, "module example.com/shop\n\n// +heroku goVersion go1.22\n// +heroku install ./cmd/...\n\ngo 1.22\n")
	res, _ := mustBuild(t, app, Plan{Kind: Go}, Options{})
	if !slices.Equal(res.Binaries, []string{"worker"}) {
		t.Fatalf("with // +heroku install ./cmd/...: Binaries = %v", res.Binaries)
	}
	// GO_INSTALL_PACKAGE_SPEC, a config var, wins over go.mod.
	res, _ = mustBuild(t, app, Plan{Kind: Go}, Options{Env: append(os.Environ(), "GO_INSTALL_PACKAGE_SPEC=.")})
	if !slices.Equal(res.Binaries, []string{"shop"}) {
		t.Fatalf("with GO_INSTALL_PACKAGE_SPEC=.: Binaries = %v", res.Binaries)
	}
	// And a configured list wins over both.
	res, _ = mustBuild(t, app, Plan{Kind: Go, GoInstall: []string{"./..."}}, Options{})
	if !slices.Equal(res.Binaries, []string{"shop", "worker"}) {
		t.Fatalf("with GoInstall ./...: Binaries = %v", res.Binaries)
	}
}

func TestGoBuildFailureLeavesBinAlone(t *testing.T) {
	slow(t, "real Go builds")
	app := goApp(t, shopMod)
	mustBuild(t, app, Plan{Kind: Go}, Options{})
	writeFiles(t, app, map[string]string{"main.go": "package main\n\nfunc main() { fmt.Println(\"v2\" }\n"})

	res, err, logs := build(t, app, Plan{Kind: Go}, Options{})
	if err == nil || res.Status != Failed {
		t.Fatalf("a syntax error built: %v, %+v", err, res)
	}
	if !strings.Contains(err.Error(), "build b2: go build: exit status 1") {
		t.Errorf("error %q should name the build, the step and the exit status", err)
	}
	if !strings.Contains(res.Output, "syntax error") || !strings.Contains(logs.text(), "syntax error") {
		t.Errorf("the compiler's message should be in the log and Output:\n%s", res.Output)
	}
	if got := runBin(t, filepath.Join(app, "bin/shop")); got != "web v1" {
		t.Fatalf("bin/shop changed by a failed build: %q", got)
	}
	if err := Restore(filepath.Join(app, ".dynobox"), app, "b2"); !errors.Is(err, ErrNoArtifact) {
		t.Fatalf("a failed build left an artifact: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(app, ".dynobox/builds/.*partial")); len(left) > 0 {
		t.Fatalf("stage left behind: %v", left)
	}
}

func TestGoNoMainPackage(t *testing.T) {
	app := t.TempDir()
	writeFiles(t, app, map[string]string{"go.mod": "module example.com/lib\n\ngo 1.22\n", "lib.go": "package lib\n"})
	_, err, _ := build(t, app, Plan{Kind: Go}, Options{})
	if err == nil || !strings.Contains(err.Error(), "no main package") {
		t.Fatalf("err = %v", err)
	}
}

func TestRestoreAndPrune(t *testing.T) {
	slow(t, "real Go builds")
	app := goApp(t, shopMod)
	state := filepath.Join(app, ".dynobox")
	for _, v := range []string{"v1", "v2", "v3"} {
		setVersion(t, app, v)
		mustBuild(t, app, Plan{Kind: Go}, Options{Keep: 2})
	}
	entries, _ := os.ReadDir(filepath.Join(state, "builds"))
	var kept []string
	for _, e := range entries {
		kept = append(kept, e.Name())
	}
	if !slices.Equal(kept, []string{"b2", "b3", "last-id"}) {
		t.Fatalf("builds/ holds %v, want the last 2 builds", kept)
	}
	if err := Restore(state, app, "b2"); err != nil {
		t.Fatal(err)
	}
	if got := runBin(t, filepath.Join(app, "bin/shop")); got != "web v2" {
		t.Fatalf("after Restore(b2), bin/shop printed %q", got)
	}
	if err := Restore(state, app, "b1"); !errors.Is(err, ErrNoArtifact) {
		t.Fatalf("Restore of a pruned build: %v", err)
	}
	if err := Restore(state, app, "../b2"); err == nil {
		t.Fatal("Restore took a path for an id")
	}
	// Numbering goes on after a restart (a fresh process reads last-id).
	res, _ := mustBuild(t, app, Plan{Kind: Go}, Options{Keep: 2})
	if res.ID != "b4" {
		t.Fatalf("next id %s, want b4", res.ID)
	}
}

func TestExecName(t *testing.T) {
	for pkg, want := range map[string]string{
		"example.com/shop":            "shop",
		"example.com/shop/cmd/web":    "web",
		"example.com/shop/v2":         "shop",
		"example.com/shop/v2/cmd/web": "web",
		"example.com/tool/v1":         "v1", // v1 is no major version suffix
		"example.com/v2":              "example.com",
		"shop":                        "shop",
		"v2":                          "v2",
	} {
		if got := execName(pkg); got != want {
			t.Errorf("execName(%q) = %q, want %q", pkg, got, want)
		}
	}
}
