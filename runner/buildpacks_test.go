package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dynobox/dynobox/runner/build"
)

func TestBuildpackDefaultTypesFillTheProcfile(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, ".dynobox"), 0o755)
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(".dynobox/"+build.ReleaseFile, `{"default_process_types":{"web":"bin/web","worker":"bin/worker"}}`)
	// Without buildpacks the saved release does not count (it may be stale).
	if _, err := LoadApp(LoadOptions{Dir: dir}); err == nil {
		t.Fatal("no Procfile and no buildpacks loaded")
	}
	write(".buildpacks", "./bp\n")
	app, err := LoadApp(LoadOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := DefaultFormation(app.Procfile, nil); got["web"] != 1 {
		t.Errorf("formation %v", got)
	}
	if e, ok := app.Procfile.Lookup("worker"); !ok || e.Command != "bin/worker" {
		t.Errorf("worker: %+v", e)
	}
	// A Procfile with web wins: no defaults.
	write("Procfile", "web: mine\n")
	if app, _ = LoadApp(LoadOptions{Dir: dir}); len(app.Procfile.Entries) != 1 {
		t.Errorf("Procfile with web: %+v", app.Procfile.Entries)
	}
	// One without web gets the missing types.
	write("Procfile", "clock: tick\n")
	if app, _ = LoadApp(LoadOptions{Dir: dir}); len(app.Procfile.Entries) != 3 || app.Procfile.Entries[1].Name != "web" {
		t.Errorf("Procfile without web: %+v", app.Procfile.Entries)
	}
}

func TestPushPlanUsesTheVerbsList(t *testing.T) {
	dir := t.TempDir()
	sd := filepath.Join(dir, ".dynobox")
	plan := build.Plan{Kind: build.Go}
	if got := pushPlan(plan, sd); got.Kind != build.Go {
		t.Fatalf("no list: %v", got)
	}
	if err := build.SaveBuildpackList(dir, []string{"heroku/python"}); err != nil {
		t.Fatal(err)
	}
	if got := pushPlan(plan, sd); got.Kind != build.Buildpacks || got.Buildpacks[0] != "heroku/python" {
		t.Fatalf("verbs list: %v", got)
	}
	if got := pushPlan(plan, t.TempDir()); got.Kind != build.Go {
		t.Fatalf("another state dir: %v", got)
	}
}
