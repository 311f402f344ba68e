package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/build"
	"github.com/dynobox/dynobox/runner/logbus"
	dbstate "github.com/dynobox/dynobox/runner/state"
	"github.com/dynobox/dynobox/web/api"
	"github.com/dynobox/dynobox/web/building"
	"github.com/dynobox/dynobox/web/router"
	"golang.org/x/term"
)

func startCommand() *command {
	c := newCommand("start", "[TYPE[=N] ...]", "Run the app's process types as supervised dynos.", `
Starts the app's add-ons (app.json, addons:create), builds the app as its
Heroku buildpack would (or --build), runs the Procfile's release command
for a new release, then the dynos; watches the app directory to deploy on
every save (--no-watch: deploy with "dynobox deploy") and to reload .env
and the Procfile when they change.

Runs one dyno of every Procfile type except release (app.json formation
counts override), or the formation given: "web=2 worker=1", "web=2,worker=1",
or "web" for one type only. A router holds the public port and sends
requests to the web dynos; each dyno gets PORT = public + 100 × type index +
instance − 1, or the next free port when that one is taken (web.1 is public
+ 1). A web dyno restarted by a deploy, by hand or by a config change boots
its replacement on a new port first (Heroku's preboot). A dyno that exits
is restarted: at once the first time, then after 1, 2, 4 … up to 30
seconds; the delay resets once it stayed up for 10 seconds. Ctrl-C stops every dyno with SIGTERM, waits --timeout, then sends
SIGKILL; a second Ctrl-C kills at once.

Environment precedence: the OS environment < env files (later files win) <
config vars set through dynobox. app.json env defaults fill only what is unset.`)
	var af appFlags
	af.register(c.flags, true)
	grace := 30 * time.Second
	boot := 60 * time.Second
	c.flags.Var(secondsFlag{&grace}, "timeout", "grace `SECONDS` between SIGTERM and SIGKILL when stopping")
	alias(c.flags, "t", "timeout")
	c.flags.Var(secondsFlag{&boot}, "boot-timeout", "`SECONDS` a web dyno has to bind $PORT before Heroku's R10")
	requestTimeout := 30 * time.Second
	c.flags.Var(secondsFlag{&requestTimeout}, "request-timeout", "`SECONDS` a web dyno has to start its response before the router's H12")
	exitOnCrash := c.flags.Bool("exit-on-crash", false, "stop everything when any dyno exits, and exit with its status")
	logFormat := c.flags.String("log-format", "compact", "`FORMAT` of log lines: compact or logplex (Heroku's full lines)")
	bind := c.flags.String("bind", "127.0.0.1", "`ADDRESS` the router listens on; anything but loopback exposes the app to the network")
	dashboard := c.flags.String("dashboard", "", "`ADDR`ess of the web dashboard (default 127.0.0.1:PORT+1000), or off")
	noWatch := c.flags.Bool("no-watch", false, "do not watch the app directory (deploy with \"dynobox deploy\")")
	buildCmd := c.flags.String("build", "", "`COMMAND` that builds the app, or none (default: detect Go, Node.js, Python or Ruby as Heroku does)")
	c.run = func(c *command, args []string) error {
		format, ok := logbus.ParseFormat(*logFormat)
		if !ok {
			return usagef("--log-format %q: use compact or logplex", *logFormat)
		}
		for _, err := range []error{checkBind(*bind), checkDashboard(*dashboard)} {
			if err != nil {
				return err
			}
		}
		if ip := net.ParseIP(*bind); *bind != "localhost" && (ip == nil || !ip.IsLoopback()) {
			fmt.Fprintf(c.stderr, "dynobox: warning: --bind %s makes the app reachable from other machines\n", *bind)
		}
		return start(c, &af, args, startOptions{grace: grace, boot: boot, exitOnCrash: *exitOnCrash, format: format, bind: *bind, dashboard: *dashboard, requestTimeout: requestTimeout, watch: !*noWatch, build: *buildCmd})
	}
	return c
}

type startOptions struct {
	grace, boot time.Duration
	exitOnCrash bool
	format      logbus.Format
	bind        string // the router's address
	dashboard   string // the dashboard's address, or "off"
	// requestTimeout is the router's H12: no response started in time.
	requestTimeout time.Duration
	watch          bool   // deploy on save, reload env files and Procfile
	build          string // runner.BuildAuto, BuildNone or a command
}

// instance is one run of "dynobox start": what its steps set up, and what
// it undoes, in reverse order, when it ends.
type instance struct {
	o              startOptions
	stdout, stderr io.Writer

	state    *runner.StateDir
	session  string
	app      *runner.App
	loadOpts runner.LoadOptions
	store    *dbstate.Store
	slots    []runner.Slot
	public   net.Listener // the router's port
	bus      *logbus.Bus
	hub      *logbus.Hub
	sigs     chan os.Signal
	addons   *addons.Set
	ctl      *runner.Controller
	sup      *runner.Supervisor
	// gate answers the public port with the building page until the
	// first release runs, then hands it to the router.
	gate *building.Gate
	// stopping ends with the run: it stops watching and cancels a build.
	stopping context.Context
	stop     context.CancelFunc
	// The add-ons, as app.json and addons:create declare them.
	addonSpecs []addons.Spec
	addonNames []string

	cleanups   []func()
	stopFailed bool // an add-on's stop failed (e.g. its final save)
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// onExit queues f to run when the instance ends, before what was queued earlier.
func (in *instance) onExit(f func()) { in.cleanups = append(in.cleanups, f) }

func (in *instance) close() {
	for i := len(in.cleanups) - 1; i >= 0; i-- {
		in.cleanups[i]()
	}
	in.cleanups = nil
}

func (in *instance) fail(code int, format string, args ...any) int {
	fmt.Fprintf(in.stderr, "dynobox: "+format+"\n", args...)
	return code
}

// start runs the app: lock its state, read its files, plan the formation,
// take the public port, start the log bus and the add-ons, serve the
// router, API and dashboard, build and release, then run the dynos until
// a signal (or a crash with --exit-on-crash).
//
// Each step reports its failure on the instance's stderr, which the saved
// log history records too (logs on the stopped app reads a failed start
// back); the error start returns is the exit status only.
func start(c *command, af *appFlags, args []string, o startOptions) error {
	in := &instance{o: o, stdout: c.stdout, stderr: c.stderr}
	defer in.close()
	steps := []func() int{
		func() int { return in.lock(af) },
		func() int { return in.load(af, args) },
		in.listen, in.openLogs, in.openGate, in.startAddons, in.serve, in.deploy,
	}
	for _, step := range steps {
		if code := step(); code != exitOK {
			return exitStatus(code)
		}
	}
	code := in.run()
	in.close() // stops the add-ons: a failed final save is a failed run
	if in.stopFailed && code == exitOK {
		code = exitFailure
	}
	return status(code)
}

// report prints err as exitCode does and returns its exit status.
func (in *instance) report(err error) int { return exitCode(in.stderr, err) }

// lock takes the app's state directory, stopping what a crashed previous
// run left behind.
func (in *instance) lock(af *appFlags) int {
	appDir, err := absDir(af.dir)
	if err != nil {
		return in.fail(exitUsage, "app directory: %v", err)
	}
	if in.state, err = runner.OpenStateDir(af.stateDirPath()); err != nil {
		return in.fail(exitFailure, "%v", err)
	}
	in.session = runner.NewSession()
	prev, err := in.state.Lock(appDir, in.session)
	if err != nil {
		return in.fail(exitFailure, "%v", err)
	}
	in.onExit(func() { in.state.Unlock() })
	if prev != nil {
		// The last run died without cleaning up (kill -9): stop what it left.
		if n := runner.SweepSession(prev.Session, 2*time.Second); n > 0 {
			fmt.Fprintf(in.stderr, "dynobox: stopped %d process(es) left behind by a previous run (pid %d)\n", n, prev.PID)
		}
	}
	return exitOK
}

// load reads the app's files and state and plans the formation.
func (in *instance) load(af *appFlags, args []string) int {
	secrets := runner.NewSecrets(in.state.File("secrets.json"))
	in.loadOpts = af.loadOptions(secrets.Get)
	app, err := runner.LoadApp(in.loadOpts)
	if app != nil {
		for _, w := range app.Warnings {
			fmt.Fprintf(in.stderr, "dynobox: warning: %s\n", w)
		}
	}
	if err != nil {
		return in.report(err)
	}
	in.app = app
	if in.store, err = dbstate.Open(in.state.File("state.db")); err != nil {
		return in.fail(exitFailure, "%v", err)
	}
	in.onExit(func() { in.store.Close() })
	if rels, err := in.store.Releases(1); err == nil && len(rels) == 0 {
		in.store.AddRelease("Initial release", "")
	}
	if in.addonSpecs, in.addonNames, err = runner.AddonSpecs(app, in.store); err != nil {
		return in.report(err)
	}
	if len(args) == 0 {
		args = in.savedFormation()
	}
	slots, err := runner.PlanFormation(app, args, in.reserved()...)
	if err != nil {
		return in.report(err)
	}
	if len(slots) == 0 {
		return in.fail(exitUsage, "the formation has no dynos; name some, e.g. \"dynobox start web=1\"")
	}
	in.slots = slots
	return exitOK
}

// reserved are the ports of dynobox's own listeners that no dyno may get:
// the dashboard's (public + 1000 by default, the port of the 11th process
// type's first dyno in foreman's pattern).
func (in *instance) reserved() []int {
	if p := dashboardPort(in.o.dashboard, in.app.Port); p > 0 {
		return []int{p}
	}
	return nil
}

// savedFormation is the formation ps:scale remembered, as start arguments;
// it overrides the default formation.
func (in *instance) savedFormation() []string {
	saved, err := in.store.Formation()
	if err != nil || len(saved) == 0 {
		return nil
	}
	var args []string
	for t, n := range saved {
		if _, ok := in.app.Procfile.Lookup(t); ok && t != runner.ReleaseType {
			args = append(args, fmt.Sprintf("%s=%d", t, n))
		}
	}
	if len(args) > 0 {
		for t, n := range runner.DefaultFormation(in.app.Procfile, in.app.AppJSON) {
			if _, ok := saved[t]; !ok {
				args = append(args, fmt.Sprintf("%s=%d", t, n))
			}
		}
	}
	return args
}

// listen takes the public port for the router, before anything starts.
func (in *instance) listen() int {
	l, err := net.Listen("tcp", net.JoinHostPort(in.o.bind, strconv.Itoa(in.app.Port)))
	if err != nil {
		return in.fail(exitFailure, "port %d is in use by another process; pass -p PORT or stop it (%v)", in.app.Port, err)
	}
	in.public = l
	in.onExit(func() { l.Close() })
	return exitOK
}

// openLogs starts the log bus (terminal, history, hub), the watchdog and
// the signal handler.
func (in *instance) openLogs() int {
	f, isFile := in.stdout.(*os.File)
	color := isFile && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
	tty := logbus.NewTerminal(in.stdout, in.o.format, color)
	for _, s := range in.slots {
		tty.Align("heroku[" + s.Name + "]")
	}
	if _, ok := in.app.Procfile.Lookup(runner.ReleaseType); ok {
		tty.Align("heroku[release.0000]")
	}
	for _, n := range in.addonNames {
		tty.Align("app[" + n + "]")
	}
	in.hub = logbus.NewHub(runner.HistoryLines)
	in.hub.Preload(runner.LoadHistory(in.store, runner.HistoryLines))
	history := runner.NewHistory(in.store)
	// What dynobox tells stderr from now on (why a start failed) goes into
	// the saved history too, after the bus's last lines: `logs` on the
	// stopped app reads it back.
	said := &lockedBuffer{}
	in.stderr = io.MultiWriter(in.stderr, said)
	in.onExit(func() {
		history.Close()
		if lines := strings.Split(strings.TrimSpace(said.String()), "\n"); lines[0] != "" {
			saved := make([]dbstate.LogLine, len(lines))
			for i, l := range lines {
				saved[i] = dbstate.LogLine{At: time.Now(), Source: logbus.SourceHeroku, Process: "dynobox", Text: strings.TrimPrefix(l, "dynobox: ")}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			in.store.AppendLogs(ctx, saved, runner.HistoryLines)
		}
	})
	in.bus = logbus.New(tty, in.hub, history)
	go in.bus.Run()
	in.onExit(in.bus.Close)

	exe, err := os.Executable()
	if err == nil {
		var wd *runner.Watchdog
		wd, err = runner.StartWatchdog(exe, in.session)
		in.onExit(func() { wd.Close() })
	}
	if err != nil {
		return in.fail(exitFailure, "%v", err)
	}
	in.sigs = make(chan os.Signal, 2)
	signal.Notify(in.sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	in.onExit(func() { signal.Stop(in.sigs) })
	in.stopping, in.stop = context.WithCancel(context.Background())
	in.onExit(in.stop)
	return exitOK
}

// startAddons starts the add-ons: no dyno starts until every one accepts
// connections.
func (in *instance) startAddons() int {
	set, err := startAddons(in.addonSpecs, in.addonNames, in.state.Path, false, in.session, in.bus, in.sigs)
	if err != nil {
		return in.report(err)
	}
	in.addons = set
	in.onExit(func() {
		if err := stopAddons(set); err != nil {
			in.fail(exitFailure, "%v", err)
			in.stopFailed = true
		}
	})
	return exitOK
}

// serve makes the controller and supervisor and serves the router, the
// API and the dashboard.
func (in *instance) serve() int {
	app, bus := in.app, in.bus
	routerURL := fmt.Sprintf("http://%s/", net.JoinHostPort(routerHost(in.o.bind), strconv.Itoa(app.Port)))
	bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("App on %s (the router, in front of the web dynos)", routerURL))
	for _, s := range in.slots {
		bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("%s on port %d: %s", s.Name, s.Port, s.Command))
	}
	events := runner.NewEventLog(in.store)
	in.onExit(func() { events.Close() })
	dashboardListener, dashboardURL, code := in.listenDashboard()
	if code != exitOK {
		return code
	}
	in.ctl = &runner.Controller{App: app, Store: in.store, Hub: in.hub, Bus: bus, Started: time.Now(), Addons: in.addons,
		StateDir: in.state.Path, RouterURL: routerURL, DashboardURL: dashboardURL, Socket: api.SocketPath(in.state.Path), Session: in.session,
		BuildCommand: in.o.build, Load: in.loadOpts, Context: in.stopping}
	// The dynos' env is set once the build has run (deploy): it may add
	// what the build installed.
	in.sup = runner.New(runner.Config{
		AppDir: app.Dir, Slots: in.slots,
		BootTimeout: in.o.boot, StopTimeout: in.o.grace, ExitOnCrash: in.o.exitOnCrash,
		Bus: bus, Session: in.session, Procfile: app.Procfile, PublicPort: app.Port, Reserved: in.reserved(),
		OnState: events.Record, Router: true,
	})
	in.ctl.Sup = in.sup
	rt := router.New(router.Config{
		Pool:            webPool{in.sup},
		Log:             func(line string) { bus.Event(logbus.SourceHeroku, "router", line) },
		PublicPort:      app.Port,
		ResponseTimeout: in.o.requestTimeout,
	})
	go rt.Serve(in.gate.Listener())
	in.onExit(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rt.Shutdown(ctx)
	})
	apiListener, err := api.Listen(in.ctl.Socket)
	if err != nil {
		return in.fail(exitFailure, "%v", err)
	}
	in.serveDashboard(dashboardListener)
	apiServer := &http.Server{Handler: api.Handler(in.ctl), ReadHeaderTimeout: 10 * time.Second}
	go apiServer.Serve(apiListener)
	in.onExit(func() { apiServer.Close(); os.Remove(in.ctl.Socket) })
	if in.gate != nil {
		in.gate.SetWatch(watchHints(in.ctl.DashboardURL, app.Dir))
		in.gate.SetPhase("starting")
	}
	return exitOK
}

// deploy builds the app and runs the release phase of a release that has
// not had one — after the add-ons are up, before any dyno boots on it —
// then starts the dynos and the watcher.
func (in *instance) deploy() int {
	dynosLaunched := make(chan struct{})
	if in.o.watch {
		// Watching from before the build: what the build and the dynos'
		// first boot write is theirs, not a save.
		// At most 10 s for the dynos to boot: a save that fixes a dyno that
		// never binds is not held back until its R10 (the loop guard
		// covers dynos that write later).
		scanned, watched := watchApp(in.ctl, in.app, in.state.Path, 10*time.Second, dynosLaunched, in.stopping)
		in.onExit(func() {
			in.stop() // a start that fails stops the watcher too
			select {
			case <-watched:
			case <-time.After(5 * time.Second):
			}
		})
		select {
		case <-scanned:
		case <-watched:
		}
	}
	// Ctrl-C during the first build or release command stops it.
	interrupted := make(chan os.Signal, 1)
	deployed, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case sig := <-in.sigs:
			interrupted <- sig
			in.stop()
		case <-deployed:
		}
	}()
	if in.gate != nil {
		if plan, err := in.ctl.BuildPlan(); err == nil && plan.Kind != build.None {
			in.gate.SetPhase("building")
			in.bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("Building the first release (%s); until the dynos run, the router answers with a building page", plan))
		}
	}
	err := in.ctl.DeployAtStart()
	close(deployed)
	<-watched
	select {
	case sig := <-interrupted:
		return in.fail(exitFailure, "received %s before the dynos started; stopped", signalName(sig))
	default:
	}
	if err != nil {
		// A build that fails with an earlier deploy at hand leaves that one
		// to run, as on Heroku; fix the code and save to deploy.
		cur, cerr := in.store.CurrentRelease()
		if !errors.Is(err, runner.ErrBuildFailed) || cerr != nil || cur.BuildID == "" {
			return in.fail(exitFailure, "%v; no dyno was started", err)
		}
		in.bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("Starting the current release v%d (build %s) instead; fix the code and save (or dynobox deploy) to deploy", cur.Version, cur.BuildID))
	}
	env, err := in.ctl.Env() // with what the build installed (a virtualenv)
	if err != nil {
		return in.fail(exitFailure, "%v", err)
	}
	in.sup.SetEnv(env)
	if err := in.sup.Start(); err != nil {
		return in.fail(exitFailure, "%v", err)
	}
	if in.gate != nil {
		in.gate.Open() // the router takes requests: web dynos boot, or H14 without any
	}
	close(dynosLaunched)
	return exitOK
}

// run waits for a signal (or a crash, with --exit-on-crash), then stops
// the dynos: gracefully, or at once on a second signal.
func (in *instance) run() int {
	var crashes <-chan runner.Crash
	if in.o.exitOnCrash {
		crashes = in.sup.Crashes()
	}
	status := exitOK
	select {
	case sig := <-in.sigs:
		in.bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("Received %s: stopping all dynos (again to kill at once)", signalName(sig)))
	case crash := <-crashes:
		in.bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("%s exited with status %d: stopping all dynos (--exit-on-crash)", crash.Dyno, crash.Status))
		status = crash.Status
	}
	in.stop() // no more deploys: a build in progress is cancelled
	stopped := make(chan struct{})
	go func() { in.sup.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-in.sigs:
		in.sup.Kill()
		<-stopped
	}
	return status
}
