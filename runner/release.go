package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/internal/ports"
	"github.com/dynobox/dynobox/internal/proc"
	"github.com/dynobox/dynobox/runner/build"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/slug"
	"github.com/dynobox/dynobox/runner/state"
)

// ReleasePhaseTimeout is Heroku's limit for a release command.
const ReleasePhaseTimeout = time.Hour

// ReleasePhase runs the Procfile's release command once, as the one-off
// dyno release.NNNN with env, its output on the bus. It returns nil when
// the command exits 0; otherwise the release fails.
func ReleasePhase(ctx context.Context, appDir, command string, env []string, session string, bus *logbus.Bus) error {
	name := fmt.Sprintf("release.%04d", 1000+rand.IntN(9000))
	ev := func(msg string) { bus.Event(logbus.SourceHeroku, name, msg) }
	port, err := ports.Pick()
	if err != nil {
		return err
	}
	pr, pw, err := outputPipe()
	if err != nil {
		return err
	}
	cmd := shellCommand(appDir, command, DynoEnv(env, appDir, name, port, session))
	cmd.Stdout, cmd.Stderr = pw, pw
	ev(fmt.Sprintf("Starting process with command `%s`", command))
	// In a cgroup, as a dyno: a daemon the release command starts goes
	// with it, even one that left its process group and cleared its
	// environment.
	cmd, cgDir, err := startChild(cmd, openCgroups(session), name)
	pw.Close()
	if err != nil {
		pr.Close()
		return fmt.Errorf("release phase: %w", err)
	}
	pid := cmd.Process.Pid
	ev("State changed from starting to up")
	pumped := make(chan struct{})
	go func() {
		logbus.Pump(bus, pr, logbus.SourceApp, name)
		pr.Close()
		close(pumped)
	}()
	waited := make(chan struct{})
	go func() {
		cmd.Wait()
		proc.ChildDone(pid)
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
		proc.SignalGroup(pid, syscall.SIGTERM)
		signalCgroup(cgDir, syscall.SIGTERM)
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			proc.SignalGroup(pid, syscall.SIGKILL)
			<-waited
		}
	}
	proc.SignalGroup(pid, syscall.SIGKILL) // leftovers go with the one-off dyno
	killCgroup(cgDir)                      // daemons too
	select {
	case <-pumped:
	case <-time.After(time.Second): // a daemon that left the group holds the pipe
	}
	status := exitStatus(cmd.ProcessState)
	ev(fmt.Sprintf("Process exited with status %d", status))
	ev("State changed from up to complete")
	if ctx.Err() != nil {
		return fmt.Errorf("release command %s timed out or was cancelled (%v)", name, ctx.Err())
	}
	if status != 0 {
		return fmt.Errorf("release command %s exited with status %d", name, status)
	}
	return nil
}

// runRelease runs the release phase (if the Procfile has one) for release
// version v with the app's current env, and records how it went.
func (c *Controller) runRelease(v int) error {
	entry, ok := c.releaseProcfile(v).Lookup(ReleaseType) // a pushed release's own
	if !ok {
		return c.Store.SetReleaseOutcome(v, "succeeded", "")
	}
	env, err := c.Env()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.context(), ReleasePhaseTimeout)
	defer cancel()
	dir, cleanup, err := c.releaseDir(v) // a pushed release's runs in a copy of its slug
	if err != nil {
		return err
	}
	defer cleanup()
	if dir != c.app().Dir {
		env = build.SlugEnv(env, dir) // what the slug's build installed in it
	}
	c.apiEvent(fmt.Sprintf("Running release command for v%d", v))
	if err := ReleasePhase(ctx, dir, entry.Command, env, c.Session, c.Bus); err != nil {
		c.Store.SetReleaseOutcome(v, "failed", "failed")
		c.apiEvent(fmt.Sprintf("Release v%d failed: %v", v, err))
		return fmt.Errorf("release v%d failed: %w", v, err)
	}
	c.apiEvent(fmt.Sprintf("Release v%d: release command succeeded", v))
	return c.Store.SetReleaseOutcome(v, "succeeded", "succeeded")
}

// ReleaseIfPending runs the release phase of the current release when it
// has not run yet (a new app, or a release made while dynobox was stopped),
// before any dyno boots on it. A pushed release whose release command
// failed in its push is no candidate: the push was rejected, and the
// release before it is what runs.
func (c *Controller) ReleaseIfPending() error {
	rels, err := c.Store.Releases(1)
	if err != nil || len(rels) == 0 {
		return err
	}
	rel := rels[0]
	if rel.Status == "failed" && rel.Phase == "failed" && slug.Exists(c.StateDir, rel.BuildID) {
		if rel, err = c.Store.CurrentRelease(); errors.Is(err, state.ErrNoRelease) {
			return nil
		} else if err != nil {
			return err
		}
	}
	if rel.Phase == "succeeded" {
		return nil
	}
	pf := c.releaseProcfile(rel.Version)
	if pf == nil {
		return nil
	}
	if _, ok := pf.Lookup(ReleaseType); !ok {
		return nil
	}
	return c.runRelease(rel.Version)
}
