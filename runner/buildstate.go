package runner

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/state"
)

// BuildProgressEvery is how often a running build says on the log that it
// still runs, with the time so far: a cold first build (module downloads)
// can be silent for minutes.
const BuildProgressEvery = 15 * time.Second

// BuildState is the app's newest build as info, ps and the dashboard's
// overview show it: one in progress, or the last one recorded. A failed
// one means the dynos run an older build.
type BuildState struct {
	ID       string        `json:"id,omitempty"` // "" while building
	Status   string        `json:"status"`       // "building", "succeeded" or "failed"
	Started  time.Time     `json:"started_at"`
	Duration time.Duration `json:"duration"` // so far, while building
}

// Building is BuildState's status of a build in progress.
const Building = "building"

// buildTracker knows whether a build runs, and since when.
type buildTracker struct {
	mu    sync.Mutex
	since time.Time // zero: no build runs
}

func (t *buildTracker) begin() {
	t.mu.Lock()
	t.since = time.Now()
	t.mu.Unlock()
}

func (t *buildTracker) end() {
	t.mu.Lock()
	t.since = time.Time{}
	t.mu.Unlock()
}

func (t *buildTracker) running() (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.since, !t.since.IsZero()
}

// newestBuild is the build in progress, else the newest recorded one;
// nil when there is neither.
func newestBuild(t *buildTracker, store *state.Store) *BuildState {
	if t != nil {
		if since, ok := t.running(); ok {
			return &BuildState{Status: Building, Started: since, Duration: time.Since(since)}
		}
	}
	if store == nil {
		return nil
	}
	builds, err := store.Builds(1)
	if err != nil || len(builds) == 0 {
		return nil
	}
	b := builds[0]
	return &BuildState{ID: b.ID, Status: b.Status, Started: b.Started, Duration: b.Duration}
}

// Build is the build in progress or the newest one (nil: none yet).
func (c *Controller) Build() *BuildState { return newestBuild(&c.builds, c.Store) }

// BuildStarted reports whether a build runs now, and since when.
func (c *Controller) BuildStarted() (time.Time, bool) { return c.builds.running() }

// buildProgress says on the log, every interval, that the build started
// at started still runs.
type buildProgress struct {
	bus     *logbus.Bus
	every   time.Duration
	started time.Time
}

// Run logs the progress lines until ctx ends (the build's end: no
// progress line after its last).
func (p *buildProgress) Run(ctx context.Context) error {
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			p.bus.Event(logbus.SourceHeroku, BuildProcess, fmt.Sprintf("Building… %s (the build's output is app[build])", time.Since(p.started).Round(time.Second)))
		}
	}
}

// trackBuild marks a build as running and runs its buildProgress; the
// returned func ends both.
func (c *Controller) trackBuild() func() {
	c.builds.begin()
	every := c.BuildProgress
	if every <= 0 {
		every = BuildProgressEvery
	}
	stop := goRun((&buildProgress{bus: c.Bus, every: every, started: time.Now()}).Run)
	return func() {
		stop()
		c.builds.end()
	}
}
