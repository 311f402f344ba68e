package runner

// Run's steps: each starts one thing and queues its stop for Close (see
// instance.go for the contract).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner/build"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/metrics"
	"github.com/dynobox/dynobox/runner/slug"
)

// Run starts the app — log bus, watchdog, building page, add-ons, router,
// API and dashboard, first build and release, dynos, watcher — and runs
// it until ctx ends (cancelled with an *Interrupted cause, it names the
// signal) or, with ExitOnCrash, a dyno exits (a *CrashError). Then it
// stops the dynos: gracefully, or at once when Options.Kill closes. A
// step that fails ends Run with its error; Close stops what started.
func (in *Instance) Run(ctx context.Context) error {
	if in.ran {
		return errors.New("run: an instance runs once")
	}
	in.ran = true
	ctx, in.stop = context.WithCancel(ctx)
	in.onExit(func() error { in.stop(); return nil })
	for _, step := range []func(context.Context) error{in.openLogs, in.hold, in.runAddons, in.serve, in.deploy, in.supervise} {
		if err := step(ctx); err != nil {
			in.fail(err)
			return err
		}
	}
	return nil
}

// openLogs starts the log bus (terminal, history, hub) and the watchdog.
func (in *Instance) openLogs(context.Context) error {
	tty := in.o.Terminal
	if tty == nil {
		tty = logbus.NewTerminal(discard{}, logbus.Compact, false)
	}
	for _, s := range in.slots {
		tty.Align("heroku[" + s.Name + "]")
	}
	if _, ok := in.app.Procfile.Lookup(ReleaseType); ok {
		tty.Align("heroku[release.0000]")
	}
	for _, n := range in.names {
		tty.Align("app[" + n + "]")
	}
	in.hub = logbus.NewHub(HistoryLines)
	in.hub.Preload(LoadHistory(in.store, HistoryLines))
	history := NewHistory(in.store)
	in.onExit(in.goRun(history.Run)) // after the bus's Close: its last lines are saved
	in.bus = logbus.New(tty, in.hub, history)
	in.onExit(in.goRun(in.bus.Run)) // at Close, after all queued later: every step may still log

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	wd, err := StartWatchdog(exe, in.session)
	if err != nil {
		return err
	}
	in.onExit(func() error { wd.Close(); return nil })
	return nil
}

// goRun is the package's goRun, for onExit.
func (in *Instance) goRun(run func(context.Context) error) (stop func() error) { return goRun(run) }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// hold makes the add-ons, the controller and the supervisor (none starts
// yet) and has the Front answer the public port with the building page
// from the time the add-ons start (Postgres' first initdb takes seconds)
// until the dynos run: no request waits for a web dyno that cannot exist
// yet.
func (in *Instance) hold(ctx context.Context) error {
	set, err := BuildAddons(in.specs, in.names, in.state.Path, false, in.session, func(name, line string) {
		in.bus.Event(logbus.SourceApp, name, line)
	})
	if err != nil {
		return err
	}
	in.set = set
	events := NewEventLog(in.store)
	in.onExit(in.goRun(events.Run))
	app := in.app
	in.ctl = &Controller{App: app, Store: in.store, Hub: in.hub, Bus: in.bus, Started: time.Now(), Addons: set,
		StateDir: in.state.Path, RouterURL: in.routerURL(), DashboardURL: in.dashURL, Socket: in.o.Socket, Session: in.session,
		BuildCommand: in.o.Build, Load: in.o.Load, Context: ctx, ExplicitReleases: !in.o.Watch,
		Metrics: metrics.New()}
	// The dynos' env is set once the build has run (deploy): it may add
	// what the build installed.
	in.sup = New(Config{
		AppDir: app.Dir, Slots: in.slots,
		BootTimeout: in.o.BootTimeout, StopTimeout: in.o.StopTimeout, ExitOnCrash: in.o.ExitOnCrash,
		Bus: in.bus, Session: in.session, Procfile: app.Procfile, PublicPort: app.Port, Reserved: in.reserved,
		OnState: events.Record,
	})
	in.ctl.Sup = in.sup
	if in.dash != nil { // the dashboard's charts are the one reader of the samples
		in.ctl.stats = newSampler(StatsInterval, StatsCount, in.sup.Dynos)
		in.onExit(in.goRun(in.ctl.stats.Run))
	}
	if in.o.Front != nil {
		phase := PhaseStarting
		if len(in.specs) > 0 {
			phase = PhaseAddons
		}
		in.onExit(in.goRun(in.o.Front.Hold(in.ctl, in.public, phase).Run))
	}
	return nil
}

// routerURL is where a browser on this machine reaches the router.
func (in *Instance) routerURL() string {
	host := in.o.Bind
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s/", net.JoinHostPort(host, strconv.Itoa(in.app.Port)))
}

// runAddons starts the add-ons and waits until each accepts connections:
// no dyno starts before. ctx ending cancels the start. The set runs — and
// so stops at Close — even when the app has no add-ons: one created with
// addons:create is stopped with the rest.
func (in *Instance) runAddons(ctx context.Context) error {
	if len(in.specs) > 0 {
		in.bus.Event(logbus.SourceHeroku, "dynobox", "Starting add-ons: "+strings.Join(in.names, ", "))
	}
	started := time.Now()
	stop, err := startAddons(ctx, in.set)
	if err != nil {
		return fmt.Errorf("%w; no dyno was started", err)
	}
	in.onExit(stop) // once the dynos are down
	if len(in.specs) == 0 {
		return nil
	}
	for _, st := range in.set.List() {
		in.bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("%s is up on %s (sets %s)", st.Name, st.Addr, strings.Join(addons.SortedEnv(st.Config), ", ")))
	}
	in.bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("Add-ons ready in %s", time.Since(started).Round(time.Millisecond)))
	return nil
}

// serve says where the app and its dynos answer and has the Front serve
// the router, the API and the dashboard.
func (in *Instance) serve(context.Context) error {
	in.bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("App on %s (the router, in front of the web dynos)", in.ctl.RouterURL))
	for _, s := range in.slots {
		in.bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("%s on port %d: %s", s.Name, s.Port, s.Command))
	}
	if in.o.Front == nil {
		return nil
	}
	web, err := in.o.Front.Serve(in.ctl, in.dash)
	if err != nil {
		return err
	}
	in.onExit(in.goRun(web.Run))
	in.onExit(in.goRun(in.ctl.RunAutoscaler)) // it reads the router's numbers
	if in.dash != nil {
		in.bus.Event(logbus.SourceHeroku, "dynobox", "Dashboard on "+in.dashURL)
	}
	return nil
}

// phase tells the Front how far the start has come.
func (in *Instance) phase(p Phase) {
	if in.o.Front != nil {
		in.o.Front.Phase(p)
	}
}

// deploy builds the app and runs the release phase of a release that has
// not had one — after the add-ons are up, before any dyno boots on it —
// then starts the dynos and the watcher.
func (in *Instance) deploy(ctx context.Context) error {
	dynosLaunched := make(chan struct{})
	if in.o.Watch {
		// Watching from before the build: what the build and the dynos'
		// first boot write is theirs, not a save.
		// At most 10 s for the dynos to boot: a save that fixes a dyno that
		// never binds is not held back until its R10 (the loop guard
		// covers dynos that write later).
		w := newAppWatcher(in.ctl, 10*time.Second, dynosLaunched)
		watched := make(chan struct{})
		go func() { w.Run(ctx); close(watched) }()
		// Not goRun: the watcher ends with the run's context (no deploy
		// while the dynos stop), and a deploy it is in gets 5 seconds.
		in.onExit(func() error {
			in.stop() // a start that fails stops the watcher too
			select {
			case <-watched:
			case <-time.After(5 * time.Second):
			}
			return nil
		})
		<-w.Scanned()
	}
	if plan, err := in.ctl.BuildPlan(); err == nil && plan.Kind != build.None && in.o.Front != nil {
		in.phase(PhaseBuilding)
		in.bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("Building the first release (%s); until the dynos run, the router answers with a building page", plan))
	}
	// ctx ending (Ctrl-C) during the first build or release command stops it.
	err := in.ctl.DeployAtStart()
	if ctx.Err() != nil {
		if sig := signalOf(ctx); sig != "" {
			return fmt.Errorf("received %s before the dynos started; stopped", sig)
		}
		return errors.New("stopped before the dynos started")
	}
	if err != nil {
		// A build that fails with an earlier deploy at hand leaves that one
		// to run, as on Heroku; fix the code and save to deploy.
		cur, cerr := in.store.CurrentRelease()
		if !errors.Is(err, ErrBuildFailed) || cerr != nil || cur.BuildID == "" {
			return fmt.Errorf("%w; no dyno was started", err)
		}
		in.bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("Starting the current release v%d (build %s) instead; fix the code and save (or dynobox deploy) to deploy", cur.Version, cur.BuildID))
	}
	env, err := in.ctl.Env() // with what the build installed (a virtualenv)
	if err != nil {
		return err
	}
	in.sup.SetEnv(env)
	if err := in.ctl.UseCurrentRelease(); err != nil { // a pushed release runs from its slug
		return err
	}
	in.onExit(func() error { slug.RemoveSpares(in.state.Path); return nil }) // the dynos have stopped by then
	if err := in.sup.Start(); err != nil {
		return err
	}
	in.ctl.applyWorkTreeProcfile() // default process types of a first buildpack build
	in.onExit(func() error { in.stopDynos(); return nil })
	in.phase(PhaseRunning)
	close(dynosLaunched)
	return nil
}

// signalOf is the signal that ended ctx, or "".
func signalOf(ctx context.Context) string {
	var i *Interrupted
	if errors.As(context.Cause(ctx), &i) {
		return i.Signal
	}
	return ""
}

// supervise waits until ctx ends (or a crash, with ExitOnCrash), then
// stops the dynos: gracefully, or at once when Options.Kill closes.
func (in *Instance) supervise(ctx context.Context) error {
	var crashes <-chan Crash
	if in.o.ExitOnCrash {
		crashes = in.sup.Crashes()
	}
	var err error
	select {
	case <-ctx.Done():
		msg := "Stopping all dynos"
		if sig := signalOf(ctx); sig != "" {
			msg = fmt.Sprintf("Received %s: stopping all dynos (again to kill at once)", sig)
		}
		in.bus.Event(logbus.SourceHeroku, "dynobox", msg)
	case crash := <-crashes:
		in.bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("%s exited with status %d: stopping all dynos (--exit-on-crash)", crash.Dyno, crash.Status))
		err = &CrashError{crash}
	}
	in.stopDynos()
	return err
}

// stopDynos stops the dynos once, after the deploys: gracefully, or at
// once when Options.Kill closes.
func (in *Instance) stopDynos() {
	in.dynos.Do(func() {
		in.stop() // no more deploys: a build in progress is cancelled
		stopped := make(chan struct{})
		go func() { in.sup.Stop(); close(stopped) }()
		select {
		case <-stopped:
		case <-in.o.Kill:
			in.sup.Kill()
			<-stopped
		}
	})
}
