package runner

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/dynobox/dynobox/runner/build"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/slug"
	"github.com/dynobox/dynobox/runner/state"
)

// BuildTimeout bounds one build, as Heroku's build timeout does.
const BuildTimeout = 15 * time.Minute

// Build settings for Controller.BuildCommand.
const (
	BuildAuto = ""     // detect the buildpack before every build
	BuildNone = "none" // no build: a deploy only makes a release and restarts
)

// BuildProcess is the log bus name of build output: app[build].
const BuildProcess = "build"

// DeployResult is what a deploy did.
type DeployResult struct {
	Build   state.Build `json:"build"`
	Release int         `json:"release,omitempty"` // 0: no release was made
}

// ErrBuildFailed and ErrReleaseFailed say which step stopped a deploy;
// either way the dynos keep running the previous release.
var (
	ErrBuildFailed   = errors.New("build failed")
	ErrReleaseFailed = errors.New("release failed")
)

// BuildPlan is how the next build runs: the configured command, no build,
// or the buildpack detected from the app's files now.
func (c *Controller) BuildPlan() (build.Plan, error) {
	switch c.BuildCommand {
	case BuildAuto:
		return build.Detect(c.app().Dir)
	case BuildNone:
		return build.Plan{Kind: build.None}, nil
	}
	return build.Plan{Kind: build.Command, Command: c.BuildCommand}, nil
}

// Deploy builds the app, makes a release of the build, runs its release
// phase and then swaps the dynos to it: new web dynos boot first and the
// old ones stop once the new are up (preboot), other types restart. A
// failed build or release phase restarts nothing. Deploys never overlap.
func (c *Controller) Deploy() (DeployResult, error) { return c.deploy(true) }

// deploy builds, releases and, when dynos run, restarts them on the release.
func (c *Controller) deploy(running bool) (DeployResult, error) {
	c.deployMu.Lock()
	defer c.deployMu.Unlock()
	res, err := c.build(running)
	if err != nil {
		return res, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.release(&res); err != nil || !running {
		return res, err
	}
	return res, c.restartWithNewEnv()
}

// DeployAtStart builds before any dyno runs and, when there was something
// to build, makes a release of it and runs its release phase. Without a
// build, the current release's pending release phase runs instead. A
// pushed current release, or with ExplicitReleases any release that has
// a build, runs as it is: no build of the work tree.
func (c *Controller) DeployAtStart() error {
	if cur, ok := c.currentIsSlug(); ok {
		// The last release is a git push: it runs as pushed, and a save
		// (or dynobox deploy) deploys the work tree again.
		c.heroku(fmt.Sprintf("Running v%d, the pushed build %s (%s); no build of the work tree at start", cur.Version, cur.BuildID, cur.Description))
		return c.ReleaseIfPending()
	}
	if cur, err := c.Store.CurrentRelease(); err == nil && cur.BuildID != "" && c.ExplicitReleases {
		// --no-watch: what runs changes only by git push or dynobox deploy;
		// bin/ holds the current release's build (a rollback restores it).
		c.heroku(fmt.Sprintf("Running v%d (%s, build %s); --no-watch builds no work tree at start: dynobox deploy or git push make releases", cur.Version, cur.Description, cur.BuildID))
		return c.ReleaseIfPending()
	}
	plan, err := c.BuildPlan()
	if err != nil {
		return err
	}
	if plan.Kind == build.None {
		return c.ReleaseIfPending()
	}
	_, err = c.deploy(false)
	return err
}

// build runs one build with the app's config vars, its output on the log
// bus as app[build], and records it. running says whether dynos run (what
// a failure leaves running).
func (c *Controller) build(running bool) (DeployResult, error) {
	var res DeployResult
	plan, err := c.BuildPlan()
	if err != nil {
		return res, err
	}
	env, err := c.Env()
	if err != nil {
		return res, err
	}
	// The session marker lets the watchdog stop a build dynobox left behind.
	env = append(env, SessionVar+"="+c.Session)
	ctx, cancel := context.WithTimeout(c.context(), BuildTimeout)
	defer cancel()
	if plan.Kind != build.None {
		defer c.trackBuild()()
	}
	config, err := c.ConfigMap()
	if err != nil {
		return res, err
	}
	out, err := build.Run(ctx, plan, build.Options{
		AppDir: c.app().Dir, StateDir: c.StateDir, Env: env, ConfigVars: config,
		Log: func(line string) { c.Bus.Event(logbus.SourceApp, BuildProcess, line) },
	})
	res.Build = state.Build{ID: out.ID, Started: out.Started, Duration: out.Duration, Status: out.Status, Kind: string(out.Kind), Output: out.Output}
	if out.ID != "" {
		if rerr := c.Store.AddBuild(res.Build); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		if running {
			c.heroku(fmt.Sprintf("Build failed: %v; the dynos keep running the previous release", err))
		} else {
			c.heroku(fmt.Sprintf("Build failed: %v", err))
		}
		return res, fmt.Errorf("%w: %v", ErrBuildFailed, err)
	}
	return res, nil
}

// release records a release of a successful build and runs its release
// phase; if that fails, the previous build's binaries go back into bin/.
// The caller holds c.mu.
func (c *Controller) release(res *DeployResult) error {
	prev, err := c.Store.CurrentBuild()
	if err != nil {
		return err
	}
	if err := c.provisionReleaseAddons(); err != nil {
		return fmt.Errorf("%w: %v", ErrReleaseFailed, err)
	}
	rel, err := c.Store.AddRelease("Deploy "+c.deployName(res.Build.ID), res.Build.ID)
	if err != nil {
		return err
	}
	res.Release = rel.Version
	c.apiEvent(fmt.Sprintf("Release v%d created: deploy of build %s", rel.Version, res.Build.ID))
	if err := c.runRelease(rel.Version); err != nil {
		if prev != "" {
			if rerr := c.restoreBuild(prev); rerr != nil {
				c.heroku(rerr.Error())
			}
		}
		return fmt.Errorf("%w: %v", ErrReleaseFailed, err)
	}
	return nil
}

// restoreBuild puts a kept build's binaries back into bin/. Builds that
// keep nothing (all but Go's) have nothing to put back.
func (c *Controller) restoreBuild(id string) error {
	if slug.Exists(c.StateDir, id) {
		return nil // a pushed build runs from its slug, never from bin/
	}
	if slug.Pruned(c.StateDir, id) {
		return fmt.Errorf("the slug of build %s was pruned (dynobox keeps the newest %d and those of the last %d releases); push again instead", id, slug.Keep, ListedReleases)
	}
	err := build.Restore(c.StateDir, c.app().Dir, id)
	if errors.Is(err, build.ErrNoArtifact) {
		if b, berr := c.Store.Build(id); berr == nil && b.Kind != string(build.Go) {
			return nil
		}
		return fmt.Errorf("build %s is no longer kept (dynobox keeps the last %d); deploy again instead", id, build.DefaultKeep)
	}
	return err
}

// deployName is how a release names what it deploys: the git commit when
// the work tree is a clean checkout, else the build id.
func (c *Controller) deployName(buildID string) string {
	dir := c.app().Dir
	sha, err := exec.Command("git", "-C", dir, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return buildID
	}
	dirty, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output()
	if err != nil || len(strings.TrimSpace(string(dirty))) > 0 {
		return buildID
	}
	return strings.TrimSpace(string(sha)) + " (work tree)" // a push's release is "Deploy SHA"
}

// context ends when dynobox stops.
func (c *Controller) context() context.Context {
	if c.Context == nil {
		return context.Background()
	}
	return c.Context
}

func (c *Controller) heroku(msg string) {
	c.Bus.Event(logbus.SourceHeroku, "dynobox", msg)
}
