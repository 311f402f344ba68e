package runner

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dynobox/dynobox/runner/slug"
	"github.com/dynobox/dynobox/runner/state"
)

// Slugs are kept for the releases `releases` lists by default (the last
// ListedReleases) and the newest slug.Keep; an older release's slug goes.
func TestPruneSlugsKeepsThoseOfListedReleases(t *testing.T) {
	dir := t.TempDir()
	store, err := state.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for i := 1; i <= 13; i++ {
		app := filepath.Join(t.TempDir(), "app")
		os.MkdirAll(app, 0o755)
		os.WriteFile(filepath.Join(app, "Procfile"), []byte("web: true\n"), 0o644)
		if _, err := slug.Write(dir, "b"+strconv.Itoa(i), "c", app); err != nil {
			t.Fatal(err)
		}
	}
	store.AddRelease("Initial release", "") // v1
	store.AddRelease("Deploy c (b1)", "b1") // v2: pushed out of the listing below
	store.AddRelease("Deploy c (b2)", "b2") // v3: the oldest listed
	for i := 0; i < ListedReleases-1; i++ {
		if _, err := store.AddRelease("Set FOO config var", "b2"); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := PruneSlugs(store, dir)
	if err != nil {
		t.Fatal(err)
	}
	// b4…b13 are the newest 10; b2 is listed; b1's release is not.
	if want := []string{"b1", "b3"}; !slices.Equal(removed, want) {
		t.Fatalf("pruned %v, want %v", removed, want)
	}
	if !slug.Pruned(dir, "b1") || !slug.Exists(dir, "b2") {
		t.Fatalf("b1 pruned %v, b2 kept %v", slug.Pruned(dir, "b1"), slug.Exists(dir, "b2"))
	}
	// A rollback to v2 says its slug is gone rather than run something else.
	c := &Controller{StateDir: dir, Store: store, App: &App{Dir: t.TempDir()}}
	if err := c.restoreBuild("b1"); err == nil || !strings.Contains(err.Error(), "slug of build b1 was pruned") {
		t.Fatalf("restoring a pruned slug's build: %v", err)
	}
}
