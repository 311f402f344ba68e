package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/procfile"
)

// addons:create and addons:destroy on an app no dynobox runs: each change
// is a release, and the checks are those of a running app's (a name
// taken, an unknown add-on: input errors).
func TestAddonsCreateAndDestroyOffline(t *testing.T) {
	t.Parallel()
	sd := filepath.Join(t.TempDir(), ".dynobox")
	name, rel, err := CreateAddonOffline(sd, addons.Spec{Plan: "heroku-redis"})
	if err != nil || name != "heroku-redis" || rel.Description != "Add heroku-redis" {
		t.Fatalf("create: %q %+v %v", name, rel, err)
	}
	// A second of the same plan gets the next name, as on Heroku.
	if name, _, err := CreateAddonOffline(sd, addons.Spec{Plan: "heroku-redis"}); err != nil || name != "heroku-redis-2" {
		t.Fatalf("second create: %q %v", name, err)
	}
	if _, _, err := CreateAddonOffline(sd, addons.Spec{Plan: "heroku-redis", As: "CACHE"}); err != nil {
		t.Fatal(err)
	}
	var ie *InputError
	_, _, err = CreateAddonOffline(sd, addons.Spec{Plan: "heroku-redis", As: "CACHE"})
	if !errors.As(err, &ie) || err.Error() != "an add-on named cache exists already; pick another with --as NAME" {
		t.Fatalf("a taken name: %v, want an input error", err)
	}

	os.MkdirAll(filepath.Join(sd, "addons", "cache"), 0o700)
	rel2, err := DestroyAddonOffline(context.Background(), sd, "cache")
	if err != nil || rel2.Description != "Remove cache" || rel2.Version <= rel.Version {
		t.Fatalf("destroy: %+v %v", rel2, err)
	}
	if _, err := os.Stat(filepath.Join(sd, "addons", "cache")); err == nil {
		t.Error("destroy left the add-on's data")
	}
	if _, err := DestroyAddonOffline(context.Background(), sd, "cache"); !errors.As(err, &ie) || err.Error() != `no add-on named "cache"` {
		t.Fatalf("destroying it again: %v, want an input error", err)
	}
}

// Formation arguments: bad ones are input errors naming the Procfile's
// types; none is the default formation (every type but release).
func TestPlanFormation(t *testing.T) {
	t.Parallel()
	pf, _, err := procfile.Parse("Procfile", strings.NewReader("web: ./server\nworker: ./work\nrelease: ./migrate\n"))
	if err != nil {
		t.Fatal(err)
	}
	app := &App{Procfile: pf, Port: 5006}
	slots, err := PlanFormation(app, nil)
	if err != nil || len(slots) != 2 || slots[0].Name != "web.1" || slots[1].Name != "worker.1" || slots[0].Port == 5006 {
		t.Fatalf("default formation: %+v %v", slots, err)
	}
	var ie *InputError
	if _, err := PlanFormation(app, []string{"clock=1"}); !errors.As(err, &ie) {
		t.Fatalf("unknown type: %v, want an input error", err)
	}
	if _, err := PlanFormation(app, []string{"web=x"}); !errors.As(err, &ie) {
		t.Fatalf("bad count: %v, want an input error", err)
	}
}
