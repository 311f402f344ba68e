package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dynobox/dynobox/internal/proc"
	"github.com/dynobox/dynobox/runner/build"
	"github.com/dynobox/dynobox/runner/gitpush"
	"github.com/dynobox/dynobox/runner/slug"
	"github.com/dynobox/dynobox/runner/state"
)

// A push's build (git push dynobox main), run by the receive hook in its
// own process, whether or not dynobox start runs: the pushed commit is
// exported into a clean directory, built there with the app's buildpack
// and config vars, and kept as a slug.

// PushOptions say what a push builds.
type PushOptions struct {
	AppDir, StateDir string
	Commit           string // the pushed commit's sha
	// GitDir is the repository holding the commit ("": the current
	// directory, where git runs the hook, with the push's objects).
	GitDir string
	// Log receives each line to show the pusher.
	Log func(line string)
}

// PushResult is a push's build and slug.
type PushResult struct {
	Build state.Build
	Slug  slug.Meta
}

// BuildPush builds commit into a slug and records the build. Pushes of
// one app run one at a time. A failed build, or a slug over Heroku's
// limit, is an error wrapping ErrBuildFailed.
func BuildPush(ctx context.Context, o PushOptions) (PushResult, error) {
	var res PushResult
	sd, err := OpenStateDir(o.StateDir)
	if err != nil {
		return res, err
	}
	unlock, err := flockFile(sd.File("push.lock"))
	if err != nil {
		return res, err
	}
	defer unlock()
	store, err := state.Open(sd.File("state.db"))
	if err != nil {
		return res, err
	}
	defer store.Close()
	env, config, err := pushEnv(o, store, sd)
	if err != nil {
		return res, err
	}
	work := sd.File("push")
	old, _ := filepath.Glob(filepath.Join(work, "build-*"))
	for _, d := range old { // what a killed push left
		os.RemoveAll(d)
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return res, err
	}
	dir, err := os.MkdirTemp(work, "build-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir) // moved into the slug on success
	if err := gitpush.Export(ctx, o.GitDir, o.Commit, gitpush.AppSubdir(o.GitDir), dir); err != nil {
		return res, err
	}
	plan, err := build.Detect(dir)
	if err != nil {
		return res, err
	}
	plan = pushPlan(plan, sd.Path)
	if plan.Kind != build.None {
		o.Log("-----> " + plan.String() + " app detected")
	}
	out, err := build.Run(ctx, plan, build.Options{AppDir: dir, StateDir: sd.Path, Env: env, ConfigVars: config, Log: o.Log, Slug: true})
	res.Build = state.Build{ID: out.ID, Started: out.Started, Duration: out.Duration, Status: out.Status, Kind: string(out.Kind), Output: out.Output}
	if out.ID != "" {
		if rerr := store.AddBuild(res.Build); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrBuildFailed, err)
	}
	res.Slug, err = slug.Write(sd.Path, out.ID, o.Commit, dir)
	if errors.Is(err, slug.ErrTooLarge) {
		return res, fmt.Errorf("%w: %v", ErrBuildFailed, err)
	}
	if err != nil {
		return res, err
	}
	o.Log("-----> Compressing… done, " + slug.Size(res.Slug.Size))
	if res.Slug.Size > slug.WarnSize {
		o.Log(fmt.Sprintf(" !     Warning: your slug size (%s) exceeds the soft limit (%s), which may affect boot time.", slug.Size(res.Slug.Size), slug.Size(slug.WarnSize)))
	}
	return res, nil
}

// pushEnv is a push build's environment: the app's config vars (env files
// and config:set; add-on vars exist only while dynobox runs), the commit
// as SOURCE_VERSION, and caches kept between builds. Nothing of git's hook
// environment leaks into the build.
func pushEnv(o PushOptions, store *state.Store, sd *StateDir) (env []string, config map[string]string, err error) {
	vars, err := store.ConfigVars()
	if err != nil {
		return nil, nil, err
	}
	app, err := LoadApp(LoadOptions{Dir: o.AppDir, ProcfileOptional: true, Secret: keptSecret(sd.File("secrets.json"))})
	if app == nil {
		return nil, nil, err
	}
	for _, kv := range ComposeEnv(app.FileEnv, vars, nil) {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	cache := sd.File(filepath.Join("push", "cache"))
	env = append(env, "SOURCE_VERSION="+o.Commit, "npm_config_cache="+filepath.Join(cache, "npm"), "PIP_CACHE_DIR="+filepath.Join(cache, "pip"))
	if os.Getenv("GOFLAGS") == "" {
		// The build directory lies inside the app's repository (in its
		// state directory), which is not the commit's: no VCS stamp.
		env = append(env, "GOFLAGS=-buildvcs=false")
	}
	return env, configMap(app.FileEnv, vars), nil
}

// flockFile takes an exclusive flock on path (created if needed).
func flockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := proc.Lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
