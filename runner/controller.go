package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner/build"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/metrics"
	"github.com/dynobox/dynobox/runner/state"
)

// Controller is the running app as the API sees it: the supervisor, the
// state database and the log hub behind one set of methods, shared by the
// CLI verbs and the dashboard.
type Controller struct {
	App     *App
	Sup     *Supervisor
	Store   *state.Store
	Hub     *logbus.Hub
	Bus     *logbus.Bus
	Started time.Time
	// Addons are the app's running add-ons; StateDir is where new ones keep data.
	Addons   *addons.Set
	StateDir string
	// Addresses for info: where the app and dashboard answer. Set when
	// the controller is made (the dashboard's listener comes first), never
	// after: the API reads them unlocked.
	RouterURL, DashboardURL, Socket string
	// Session marks the processes this dynobox starts (release phase too).
	Session string
	// BuildCommand says how deploys build: BuildAuto, BuildNone or a command.
	BuildCommand string
	// ExplicitReleases (start --no-watch): only pushes and dynobox deploy
	// make releases; a start runs the current one, building the work tree
	// only when the app has never had a build.
	ExplicitReleases bool
	// Load says where the app's files are, to reload them when they change.
	Load LoadOptions
	// Context ends when dynobox stops; it cancels a build in progress.
	Context context.Context
	// BuildProgress is how often a running build logs its elapsed time
	// (0: BuildProgressEvery).
	BuildProgress time.Duration

	mu       sync.Mutex // one config, formation or release change at a time
	deployMu sync.Mutex // one build at a time

	appMu  sync.RWMutex
	loaded *App // App as last reloaded; nil: App

	builds buildTracker
	stats  *sampler // nil: no sampling (no dashboard)

	// Metrics are the router's numbers (nil: none kept); autoscale, the
	// autoscaler's memory (autoscaler.go).
	Metrics   *metrics.Recorder
	autoscale autoscaleState
}

// app is the app's files as last read: App, or a reload of them.
func (c *Controller) app() *App {
	c.appMu.RLock()
	defer c.appMu.RUnlock()
	if c.loaded != nil {
		return c.loaded
	}
	return c.App
}

func (c *Controller) setApp(a *App) {
	c.appMu.Lock()
	c.loaded = a
	c.appMu.Unlock()
}

// Name is the app's name: its directory's name ("" before an app is set).
func (c *Controller) Name() string {
	if c.App == nil {
		return ""
	}
	return filepath.Base(c.App.Dir)
}

// Env is every dyno's environment: the OS environment < env files <
// config vars set through dynobox (add-on vars among them).
func (c *Controller) Env() ([]string, error) {
	vars, err := c.Store.ConfigVars()
	if err != nil {
		return nil, err
	}
	env := ComposeEnv(c.app().FileEnv, vars, c.addonEnv())
	if _, ok := c.currentIsSlug(); ok {
		return c.slugEnv(env), nil // the slug's own virtualenv, per dyno
	}
	return build.ReleaseEnv(build.RuntimeEnv(env, c.StateDir), c.StateDir), nil
}

// ConfigMap is the app's config — env files, config vars, add-on vars —
// without the OS environment: what a buildpack's ENV_DIR holds.
func (c *Controller) ConfigMap() (map[string]string, error) {
	vars, err := c.Store.ConfigVars()
	if err != nil {
		return nil, err
	}
	return configMap(c.app().FileEnv, vars, c.addonEnv()), nil
}

// configMap merges the config layers in precedence order.
func configMap(layers ...map[string]string) map[string]string {
	m := map[string]string{}
	for _, layer := range layers {
		for k, v := range layer {
			m[k] = v
		}
	}
	return m
}

// ComposeEnv layers the environment in precedence order: the OS
// environment < env files (and app.json defaults) < config vars set through
// dynobox < add-on vars (which cannot be set by hand).
func ComposeEnv(fileEnv, configVars, addonVars map[string]string) []string {
	return sortedEnv(configMap(envMap(os.Environ()), fileEnv, configVars, addonVars))
}

func (c *Controller) addonEnv() map[string]string {
	if c.Addons == nil {
		return nil
	}
	return c.Addons.Env()
}

func sortedEnv(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := make([]string, len(keys))
	for i, k := range keys {
		env[i] = k + "=" + m[k]
	}
	return env
}

// ConfigVar is one config var as `dynobox config` shows it.
type ConfigVar struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"` // "config" (config:set), "env" (an env file), "addon"
}

// Config lists the app's config vars: those from env files and app.json,
// those set through dynobox, and the add-ons' (as on Heroku, add-on vars
// are config vars). The OS environment is not listed.
func (c *Controller) Config() ([]ConfigVar, error) {
	vars, err := c.Store.ConfigVars()
	if err != nil {
		return nil, err
	}
	all := map[string]ConfigVar{}
	for k, v := range c.app().FileEnv {
		all[k] = ConfigVar{k, v, "env"}
	}
	for k, v := range vars {
		all[k] = ConfigVar{k, v, "config"}
	}
	for k, v := range c.addonEnv() {
		all[k] = ConfigVar{k, v, "addon"}
	}
	out := make([]ConfigVar, 0, len(all))
	for _, v := range all {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

var configKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkConfigChange validates a config:set or config:unset against the
// add-ons' vars and the config vars the app has, and returns the
// description of its release ("Set FOO, BAR config vars").
func checkConfigChange(set map[string]string, unset []string, addon, have map[string]string) (string, error) {
	var keys []string
	for k := range set {
		keys = append(keys, k)
	}
	keys = append(keys, unset...)
	if len(keys) == 0 {
		return "", &InputError{errors.New("no config vars given; use KEY=VALUE")}
	}
	for _, k := range keys {
		if !configKey.MatchString(k) {
			return "", &InputError{fmt.Errorf("invalid config var name %q: use letters, digits and _, not starting with a digit", k)}
		}
		if _, ok := addon[k]; ok {
			return "", &InputError{fmt.Errorf("%s is set by an add-on; change the add-on instead (addons:destroy / addons:create)", k)}
		}
		if k == "PORT" || k == "DYNO" || k == "PS" {
			return "", &InputError{fmt.Errorf("%s is set by dynobox for each dyno and cannot be a config var", k)}
		}
	}
	if len(set) == 0 {
		for _, k := range unset {
			if _, ok := have[k]; !ok {
				return "", &InputError{fmt.Errorf("%s is not a config var set with config:set; nothing to unset", k)}
			}
		}
		return "Unset " + strings.Join(unset, ", ") + " config vars", nil
	}
	return "Set " + strings.Join(slices.Sorted(maps.Keys(set)), ", ") + " config vars", nil
}

// SetConfig sets and unsets config vars, records a release and restarts
// every dyno with the new environment.
func (c *Controller) SetConfig(set map[string]string, unset []string) (state.Release, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	have, err := c.Store.ConfigVars()
	if err != nil {
		return state.Release{}, err
	}
	desc, err := checkConfigChange(set, unset, c.addonEnv(), have)
	if err != nil {
		return state.Release{}, err
	}
	before := have
	rel, err := c.Store.UpdateConfig(set, unset, desc)
	if err != nil {
		return rel, err
	}
	c.apiEvent(desc)
	c.apiEvent(fmt.Sprintf("Release v%d created", rel.Version))
	if err := c.runRelease(rel.Version); err != nil {
		// The failed release is not deployed: the dynos keep the old config.
		c.Store.SetConfigVars(before)
		return rel, fmt.Errorf("%w; the dynos keep running the previous release and its config vars", err)
	}
	return rel, c.restartWithNewEnv()
}

// Rollback returns to release v: its config vars and its build (the
// build's binaries go back into bin/) as a new release, whose release
// phase runs before the dynos restart on it.
func (c *Controller) Rollback(v int) (state.Release, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, err := c.Store.Release(v)
	if err != nil {
		return old, &InputError{err}
	}
	current, err := c.Store.CurrentBuild()
	if err != nil {
		return old, err
	}
	if old.BuildID != "" && old.BuildID != current {
		if err := c.restoreBuild(old.BuildID); err != nil {
			return old, &InputError{fmt.Errorf("cannot roll back to v%d: %w", v, err)}
		}
	}
	before, err := c.Store.ConfigVars()
	if err != nil {
		return old, err
	}
	rel, err := c.Store.ReplaceConfig(old.Config, fmt.Sprintf("Rollback to v%d", v), old.BuildID)
	if err != nil {
		return rel, err
	}
	c.apiEvent(fmt.Sprintf("Rollback to v%d", v))
	c.apiEvent(fmt.Sprintf("Release v%d created", rel.Version))
	if err := c.runRelease(rel.Version); err != nil {
		c.Store.SetConfigVars(before)
		if current != "" && current != old.BuildID {
			c.restoreBuild(current)
		}
		return rel, fmt.Errorf("%w; the dynos keep running the previous release", err)
	}
	return rel, c.restartWithNewEnv()
}

func (c *Controller) restartWithNewEnv() error {
	env, err := c.Env()
	if err != nil {
		return err
	}
	c.Sup.SetEnv(env)
	added, err := c.applyRelease() // a pushed release's slug and Procfile, or the app directory's
	if err != nil {
		return err
	}
	_, err = c.Sup.Restart(Select{})
	c.scaleAdded(added)
	return err
}

func (c *Controller) apiEvent(msg string) {
	c.Bus.Event(logbus.SourceApp, "api", msg)
}

// Releases lists releases, newest first.
func (c *Controller) Releases() ([]state.Release, error) { return c.Store.Releases(0) }

// ScaleChange is one "web=3", "worker+1" or "clock-1".
type ScaleChange struct {
	Type string `json:"type"`
	Op   string `json:"op"` // "=", "+" or "-"
	N    int    `json:"n"`
}

var scaleArg = regexp.MustCompile(`^([\w-]+)([=+-])(\d+)$`)

// ParseScale reads ps:scale arguments (Heroku's `^([\w-]+)([=+-]\d+)$`).
func ParseScale(args []string) ([]ScaleChange, error) {
	var out []ScaleChange
	for _, a := range args {
		for _, part := range strings.Split(a, ",") {
			if part == "" {
				continue
			}
			m := scaleArg.FindStringSubmatch(part)
			if m == nil {
				return nil, &InputError{fmt.Errorf("bad scale %q: use TYPE=N, TYPE+N or TYPE-N, e.g. web=3 worker+1", part)}
			}
			n, _ := strconv.Atoi(m[3])
			out = append(out, ScaleChange{Type: m[1], Op: m[2], N: n})
		}
	}
	if len(out) == 0 {
		return nil, &InputError{errors.New("nothing to scale: use TYPE=N, e.g. web=3 worker+1")}
	}
	return out, nil
}

// Scale applies changes to the formation — all or none — and remembers
// the result across restarts. It returns the new counts of the types changed.
func (c *Controller) Scale(changes []ScaleChange) (map[string]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	current := c.Sup.Formation()
	next := map[string]int{}
	for _, ch := range changes {
		have, ok := current[ch.Type]
		if !ok {
			return nil, &InputError{fmt.Errorf("unknown process type %q; the Procfile has: %s", ch.Type, strings.Join(scalableTypes(c.app().Procfile), ", "))}
		}
		if n, seen := next[ch.Type]; seen {
			have = n
		}
		switch ch.Op {
		case "=":
			have = ch.N
		case "+":
			have += ch.N
		case "-":
			have -= ch.N
		}
		if have < 0 {
			have = 0
		}
		if have > 100 {
			return nil, &InputError{fmt.Errorf("%s=%d: at most 100 dynos of one type", ch.Type, have)}
		}
		next[ch.Type] = have
	}
	if err := c.checkAutoscaleBounds(next); err != nil {
		return nil, err
	}
	if _, ok := next[AutoscaleType]; ok {
		c.autoscale.changed()
	}
	for t, n := range next {
		if err := c.Sup.Scale(t, n); err != nil {
			return nil, err
		}
	}
	if err := c.Store.SetFormation(next); err != nil {
		return next, fmt.Errorf("scaled, but could not remember the formation: %w", err)
	}
	c.apiEvent("Scaled to " + FormationString(next))
	return next, nil
}

// Info is what `dynobox info --json` prints: the one call a test harness needs.
type Info struct {
	Name string `json:"name"`
	Dir  string `json:"dir"`
	// State is "running", or "stopped" when no dynobox runs (what the verbs
	// then show comes from the state database).
	State     string            `json:"state"`
	PID       int               `json:"pid"`
	Started   time.Time         `json:"started_at"`
	Release   int               `json:"release"`
	Router    string            `json:"router_url"`
	Dashboard string            `json:"dashboard_url,omitempty"`
	Socket    string            `json:"api_socket"`
	Formation map[string]int    `json:"formation"`
	Dynos     []DynoInfo        `json:"dynos"`
	Addons    []addons.Status   `json:"addons"`
	Commands  map[string]string `json:"commands"`
	// Build is the build in progress, else the newest one: a failed one
	// means the dynos run an older release.
	Build *BuildState `json:"build,omitempty"`
	// Autoscale is the web dynos' autoscaling, if on (ps:autoscale:enable).
	Autoscale *AutoscaleInfo `json:"autoscale,omitempty"`
}

// Info gathers the app's state.
func (c *Controller) Info() (Info, error) {
	rel := 0
	rels, err := c.Store.Releases(1)
	if err != nil {
		return Info{}, fmt.Errorf("read the current release: %w", err)
	}
	if len(rels) > 0 {
		rel = rels[0].Version
	}
	cmds := map[string]string{}
	for _, e := range c.app().Procfile.Entries {
		cmds[e.Name] = e.Command
	}
	return Info{
		Name: c.Name(), Dir: c.App.Dir, State: "running", PID: os.Getpid(), Started: c.Started, Release: rel,
		Router: c.RouterURL, Dashboard: c.DashboardURL, Socket: c.Socket,
		Formation: c.Sup.Formation(), Dynos: c.Sup.Dynos(), Addons: c.AddonStatus(), Commands: cmds,
		Build: c.Build(), Autoscale: c.Autoscale(),
	}, nil
}
