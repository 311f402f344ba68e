package runner

import (
	"errors"
	"path/filepath"

	"github.com/dynobox/dynobox/procfile"
	"github.com/dynobox/dynobox/runner/build"
	"github.com/dynobox/dynobox/runner/slug"
	"github.com/dynobox/dynobox/runner/state"
)

// SlugRun is where a one-off dyno (dynobox run) runs while the current
// release is a pushed build: a fresh copy of its slug, as Heroku's one-off
// dynos run the current release's slug, not anyone's working copy.
type SlugRun struct {
	Dir      string             // the copy, under the state directory's dynos/
	Procfile *procfile.Procfile // the slug's, nil when it has none
	Commit   string             // the pushed commit
	Remove   func()             // removes the copy: what the dyno wrote goes with it
}

// Env adds the slug's dyno metadata and what its build installed in the
// copy (a virtualenv) to env, the app's environment.
func (r *SlugRun) Env(env []string) []string {
	if r.Commit != "" {
		env = append(env, "HEROKU_SLUG_COMMIT="+r.Commit, "SOURCE_VERSION="+r.Commit)
	}
	return build.SlugEnv(env, r.Dir)
}

// CurrentSlugRun copies the current release's slug for a one-off dyno. It
// returns nil, and copies nothing, when the current release is not a
// pushed build (or there is none): the one-off runs in the app directory.
func CurrentSlugRun(stateDir string) (*SlugRun, error) {
	abs, err := filepath.Abs(stateDir) // PATH entries in the copy are absolute
	if err != nil {
		return nil, err
	}
	store, err := state.Open(filepath.Join(abs, "state.db"))
	if err != nil {
		return nil, err
	}
	defer store.Close()
	cur, err := store.CurrentRelease()
	if errors.Is(err, state.ErrNoRelease) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !slug.Exists(abs, cur.BuildID) {
		return nil, nil
	}
	m, err := slug.Read(abs, cur.BuildID)
	if err != nil {
		return nil, err
	}
	dir, remove, err := slug.Copy(abs, cur.BuildID, "run")
	if err != nil {
		return nil, err
	}
	return &SlugRun{Dir: dir, Procfile: slugProcfile(abs, cur.BuildID), Commit: m.Commit, Remove: remove}, nil
}
