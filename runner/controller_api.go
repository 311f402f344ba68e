package runner

import (
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/state"
)

// The Controller's side of web/api.App: what the API asks of the running
// app, so that the API reaches neither the supervisor, the store, the bus
// nor the hub itself.

// Restart restarts the selected dynos (ps:restart), returning their names.
func (c *Controller) Restart(sel Select) ([]string, error) { return c.Sup.Restart(sel) }

// StopDynos stops the selected dynos until they are restarted or
// rescaled (ps:stop), returning their names.
func (c *Controller) StopDynos(sel Select) ([]string, error) { return c.Sup.StopDynos(sel) }

// Builds lists up to limit builds, newest first.
func (c *Controller) Builds(limit int) ([]state.Build, error) { return c.Store.Builds(limit) }

// BuildByID is one build with its output.
func (c *Controller) BuildByID(id string) (state.Build, error) { return c.Store.Build(id) }

// Event logs a platform line for process (a one-off dyno's lifecycle).
func (c *Controller) Event(process, text string) { c.Bus.Event(logbus.SourceHeroku, process, text) }

// Logs is the app's log: its recent lines and its stream.
func (c *Controller) Logs() *logbus.Hub { return c.Hub }

// Stats is each dyno's CPU and memory over the last few minutes, sampled
// while the dashboard is on (none otherwise).
func (c *Controller) Stats() Stats { return c.stats.snapshot() }
