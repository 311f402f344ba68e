package runner

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/dynobox/dynobox/runner/build"
	"github.com/dynobox/dynobox/runner/slug"
	"github.com/dynobox/dynobox/runner/state"
)

// Releases of pushed builds (git push dynobox main) run from their slug:
// every dyno process, and the release phase, in a fresh copy of it. Other
// releases run in the app directory, as before.

// RootFunc makes the directory a process named name runs in, and returns
// it with a func that removes it once the process has ended.
type RootFunc func(name string) (dir string, cleanup func(), err error)

// SetRoot sets where dyno processes started from now on run (nil: the app
// directory); it restarts nothing by itself.
func (s *Supervisor) SetRoot(root RootFunc) {
	s.mu.Lock()
	s.root = root
	s.mu.Unlock()
}

// dynoRoot is the directory the next process of dyno name runs in.
func (s *Supervisor) dynoRoot(name string) (string, func(), error) {
	s.mu.Lock()
	root := s.root
	s.mu.Unlock()
	if root == nil {
		return s.cfg.AppDir, func() {}, nil
	}
	return root(name)
}

// dynoEnv is the environment of one dyno: the app's env, its port and name,
// and the session marker that lets the watchdog find its processes. A dyno
// in a copy of a slug also gets what the slug's build installed in it (its
// virtualenv), not the work tree's.
func (s *Supervisor) dynoEnv(slot Slot, dir string) []string {
	s.mu.Lock()
	env, root := s.env, s.root
	s.mu.Unlock()
	if root != nil {
		env = build.SlugEnv(env, dir)
	}
	return DynoEnv(env, dir, slot.Name, slot.Port, s.cfg.Session)
}

// slugRoot runs processes in copies of slug id, each taken from a spare
// made ahead (slug.CopyWarm). Their paths are absolute: PATH entries in
// them must not depend on the working directory.
func slugRoot(stateDir, id string) RootFunc {
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	go slug.PrepareSpare(stateDir, id) // the first dyno's copy, made while the release phase runs
	return func(name string) (string, func(), error) { return slug.CopyWarm(stateDir, id, name) }
}

// applyRoot points the supervisor at the current release's slug, or at
// the app directory when that release is not a pushed build.
func (c *Controller) applyRoot() error {
	cur, err := c.Store.CurrentRelease()
	if errors.Is(err, state.ErrNoRelease) {
		c.Sup.SetRoot(nil)
		return nil
	}
	if err != nil {
		return err
	}
	if slug.Exists(c.StateDir, cur.BuildID) {
		c.Sup.SetRoot(slugRoot(c.StateDir, cur.BuildID))
	} else {
		c.Sup.SetRoot(nil)
	}
	return nil
}

// UseCurrentRelease makes the dynos started from now on run the current
// release: its slug when it is a pushed build. Copies left by a dynobox
// that was killed are removed first.
func (c *Controller) UseCurrentRelease() error {
	slug.CleanCopies(c.StateDir)
	return c.applyRoot()
}

// slugEnv adds Heroku's dyno metadata of a pushed release, the commit it
// was built from, to env: HEROKU_SLUG_COMMIT and SOURCE_VERSION.
func (c *Controller) slugEnv(env []string) []string {
	cur, err := c.Store.CurrentRelease()
	if err != nil || !slug.Exists(c.StateDir, cur.BuildID) {
		return env
	}
	m, err := slug.Read(c.StateDir, cur.BuildID)
	if err != nil || m.Commit == "" {
		return env
	}
	return append(env, "HEROKU_SLUG_COMMIT="+m.Commit, "SOURCE_VERSION="+m.Commit)
}

// releaseDir is where release v's release phase runs: a copy of its slug,
// or the app directory.
func (c *Controller) releaseDir(v int) (string, func(), error) {
	rel, err := c.Store.Release(v)
	if err != nil {
		return "", nil, err
	}
	if !slug.Exists(c.StateDir, rel.BuildID) {
		return c.app().Dir, func() {}, nil
	}
	return slug.CopyWarm(c.StateDir, rel.BuildID, ReleaseType) // the push made a spare; the next is the first web dyno's
}

// currentIsSlug reports whether the current release runs a pushed build.
func (c *Controller) currentIsSlug() (state.Release, bool) {
	cur, err := c.Store.CurrentRelease()
	return cur, err == nil && slug.Exists(c.StateDir, cur.BuildID)
}

// ReleaseSlug makes a release of pushed build id (its slug must exist),
// runs its release phase, and swaps the dynos to it as a deploy does: new
// web dynos boot from the slug first, the old stop once they are up. A
// failed release phase changes nothing that runs.
func (c *Controller) ReleaseSlug(id string) (state.Release, error) {
	c.deployMu.Lock()
	defer c.deployMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := slug.Read(c.StateDir, id)
	if err != nil || !slug.Exists(c.StateDir, id) {
		return state.Release{}, &InputError{fmt.Errorf("no slug for build %q", id)}
	}
	if err := c.provisionAddons(slugReleaseAddons(c.StateDir, id)); err != nil {
		return state.Release{}, fmt.Errorf("%w: %v", ErrReleaseFailed, err)
	}
	rel, err := c.Store.AddRelease("Deploy "+ShortSHA(m.Commit), id)
	if err != nil {
		return rel, err
	}
	c.apiEvent(fmt.Sprintf("Release v%d created: git push of %s (build %s, slug %s)", rel.Version, ShortSHA(m.Commit), id, slug.Size(m.Size)))
	spare := make(chan struct{})
	go func() { slug.PrepareSpare(c.StateDir, id); close(spare) }() // the first new dyno's copy, made while the release phase runs
	defer func() { <-spare }()
	if err := c.runRelease(rel.Version); err != nil {
		return rel, fmt.Errorf("%w: %v", ErrReleaseFailed, err)
	}
	c.pruneSlugs()
	return rel, c.restartWithNewEnv()
}

// ShortSHA is a commit as Heroku's releases name it: 7 characters.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// pruneSlugs keeps the newest slugs and those of recorded releases.
func (c *Controller) pruneSlugs() {
	if removed, err := PruneSlugs(c.Store, c.StateDir); err != nil {
		c.heroku(err.Error())
	} else if len(removed) > 0 {
		c.heroku(fmt.Sprintf("Pruned slugs %v (kept the newest %d and those of the last %d releases)", removed, slug.Keep, ListedReleases))
	}
}

// ListedReleases is how many releases `dynobox releases` lists by
// default, as Heroku's CLI does (heroku releases -n 15).
const ListedReleases = 15

// PruneSlugs removes the slugs that neither are among the newest
// slug.Keep nor belong to a release `releases` lists by default (a
// rollback may return to it); older releases' slugs go.
func PruneSlugs(store *state.Store, stateDir string) ([]string, error) {
	rels, err := store.Releases(ListedReleases)
	if err != nil {
		return nil, err
	}
	needed := map[string]bool{}
	for _, r := range rels {
		needed[r.BuildID] = true
	}
	return slug.Prune(stateDir, slug.Keep, needed)
}
