package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	dbstate "github.com/dynobox/dynobox/runner/state"
	"github.com/dynobox/dynobox/web/api"
	"github.com/dynobox/dynobox/web/router"
	"golang.org/x/term"
)

func startCommand() *command {
	c := newCommand("start", "[TYPE[=N] ...]", "Run the app's process types as supervised dynos.", `
Runs one dyno of every Procfile type except release (app.json formation
counts override), or the formation given: "web=2 worker=1", "web=2,worker=1",
or "web" for one type only. A router holds the public port and sends requests
to the web dynos; each dyno gets PORT = public + 100 × type index + instance
− 1, or the next free port when that one is taken (web.1 is public + 1). A
web dyno restarted by hand or by a config change boots its replacement on a
new port first (Heroku's preboot). A dyno that exits is restarted: at once the first time,
then after 1, 2, 4 … up to 30 seconds; the delay resets once it stayed up for
10 seconds. Ctrl-C stops every dyno with SIGTERM, waits --timeout, then sends
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
	c.run = func(c *command, args []string) int {
		format, ok := logbus.ParseFormat(*logFormat)
		if !ok {
			fmt.Fprintf(os.Stderr, "dynobox: --log-format %q: use compact or logplex\n", *logFormat)
			return exitUsage
		}
		if ip := net.ParseIP(*bind); *bind != "localhost" && (ip == nil || !ip.IsLoopback()) {
			fmt.Fprintf(os.Stderr, "dynobox: warning: --bind %s makes the app reachable from other machines\n", *bind)
		}
		return start(&af, args, startOptions{grace: grace, boot: boot, exitOnCrash: *exitOnCrash, format: format, bind: *bind, dashboard: *dashboard, requestTimeout: requestTimeout, watch: !*noWatch, build: *buildCmd})
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

func start(af *appFlags, args []string, o startOptions) int {
	stderr := os.Stderr
	appDir, err := absDir(af.dir)
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: app directory: %v\n", err)
		return exitUsage
	}
	state, err := runner.OpenStateDir(af.stateDirPath())
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}
	session := runner.NewSession()
	prev, err := state.Lock(appDir, session)
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}
	defer state.Unlock()
	if prev != nil {
		// The last run died without cleaning up (kill -9): stop what it left.
		if n := runner.SweepSession(prev.Session, 2*time.Second); n > 0 {
			fmt.Fprintf(stderr, "dynobox: stopped %d process(es) left behind by a previous run (pid %d)\n", n, prev.PID)
		}
	}

	secrets := runner.NewSecrets(state.File("secrets.json"))
	loadOpts := af.loadOptions(secrets.Get)
	app, err := runner.LoadApp(loadOpts)
	if app != nil {
		for _, w := range app.Warnings {
			fmt.Fprintf(stderr, "dynobox: warning: %s\n", w)
		}
	}
	if err != nil {
		return reportLoadError(stderr, err)
	}
	store, err := dbstate.Open(state.File("state.db"))
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}
	defer store.Close()
	if rels, err := store.Releases(1); err == nil && len(rels) == 0 {
		store.AddRelease("Initial release", "")
	}
	if len(args) == 0 {
		// ps:scale is remembered: it overrides the default formation.
		if saved, err := store.Formation(); err == nil && len(saved) > 0 {
			for t, n := range saved {
				if _, ok := app.Procfile.Lookup(t); ok && t != runner.ReleaseType {
					args = append(args, fmt.Sprintf("%s=%d", t, n))
				}
			}
			if len(args) > 0 {
				for t, n := range runner.DefaultFormation(app.Procfile, app.AppJSON) {
					if _, ok := saved[t]; !ok {
						args = append(args, fmt.Sprintf("%s=%d", t, n))
					}
				}
			}
		}
	}
	slots, code := planFormation(app, args, withRouter, stderr)
	if code != exitOK {
		return code
	}
	if len(slots) == 0 {
		fmt.Fprintf(stderr, "dynobox: the formation has no dynos; name some, e.g. \"dynobox start web=1\"\n")
		return exitUsage
	}
	var publicListener net.Listener
	if withRouter {
		publicListener, err = net.Listen("tcp", net.JoinHostPort(o.bind, strconv.Itoa(app.Port)))
		if err != nil {
			fmt.Fprintf(stderr, "dynobox: port %d is in use by another process; pass -p PORT or stop it (%v)\n", app.Port, err)
			return exitFailure
		}
		defer publicListener.Close()
	} else {
		for _, s := range slots {
			if s.Type == "web" && s.Index == 1 && !runner.PortFree(s.Port) {
				fmt.Fprintf(stderr, "dynobox: port %d is in use by another process; pass -p PORT or stop it\n", s.Port)
				return exitFailure
			}
		}
	}

	color := term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == ""
	tty := logbus.NewTerminal(os.Stdout, o.format, color)
	for _, s := range slots {
		tty.Align("heroku[" + s.Name + "]")
	}
	if _, ok := app.Procfile.Lookup(runner.ReleaseType); ok {
		tty.Align("heroku[release.0000]")
	}
	specs, names, err := runner.AddonSpecs(app, store)
	if err != nil {
		return reportLoadError(stderr, err)
	}
	for _, n := range names {
		tty.Align("app[" + n + "]")
	}
	hub := logbus.NewHub(runner.HistoryLines)
	hub.Preload(runner.LoadHistory(store, runner.HistoryLines))
	history := runner.NewHistory(store)
	defer history.Close()
	bus := logbus.New(tty, hub, history)
	go bus.Run()
	defer bus.Close()

	exe, err := os.Executable()
	if err == nil {
		var wd *runner.Watchdog
		wd, err = runner.StartWatchdog(exe, session)
		defer wd.Close()
	}
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	// stopping ends with the run: it stops watching and cancels a build.
	stopping, stop := context.WithCancel(context.Background())
	defer stop()

	// Add-ons first: no dyno starts until every one accepts connections.
	set, code := startAddons(specs, names, state.Path, false, bus, sigs, stderr)
	if code != exitOK {
		return code
	}
	defer stopAddons(set)

	bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("App on %s (the router, in front of the web dynos)",
		fmt.Sprintf("http://%s/", net.JoinHostPort(routerHost(o.bind), strconv.Itoa(app.Port)))))
	for _, s := range slots {
		bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("%s on port %d: %s", s.Name, s.Port, s.Command))
	}
	events := runner.NewEventLog(store)
	defer events.Close()
	ctl := &runner.Controller{App: app, Store: store, Hub: hub, Bus: bus, Started: time.Now(), Addons: set, StateDir: state.Path,
		RouterURL: fmt.Sprintf("http://%s/", net.JoinHostPort(routerHost(o.bind), strconv.Itoa(app.Port))), Socket: api.SocketPath(state.Path), Session: session,
		BuildCommand: o.build, Load: loadOpts, Context: stopping}
	env, err := ctl.Env()
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}
	sup := runner.New(runner.Config{
		AppDir: app.Dir, Env: env, Slots: slots,
		BootTimeout: o.boot, StopTimeout: o.grace, ExitOnCrash: o.exitOnCrash,
		Bus: bus, Session: session, Procfile: app.Procfile, PublicPort: app.Port,
		OnState: events.Record, Router: withRouter,
	})
	ctl.Sup = sup
	if withRouter {
		rt := router.New(router.Config{
			Pool:            webPool{sup},
			Log:             func(line string) { bus.Event(logbus.SourceHeroku, "router", line) },
			PublicPort:      app.Port,
			ResponseTimeout: o.requestTimeout,
		})
		go rt.Serve(publicListener)
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			rt.Shutdown(ctx)
		}()
	}
	apiListener, err := api.Listen(ctl.Socket)
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}
	apiServer := &http.Server{Handler: api.Handler(ctl), ReadHeaderTimeout: 10 * time.Second}
	go apiServer.Serve(apiListener)
	defer os.Remove(ctl.Socket)
	defer apiServer.Close()
	if o.dashboard != "off" {
		if o.dashboard == "" {
			o.dashboard = fmt.Sprintf("127.0.0.1:%d", app.Port+1000)
		}
		stopDashboard, err := serveDashboard(ctl, o.dashboard)
		if err != nil {
			fmt.Fprintf(stderr, "dynobox: dashboard: %v; pass --dashboard ADDR or --dashboard off\n", err)
			return exitFailure
		}
		defer stopDashboard()
		bus.Event(logbus.SourceHeroku, "dynobox", "Dashboard on "+ctl.DashboardURL)
	}
	// The build and the release phase of a release that has not had one
	// run after the add-ons are up and before any dyno boots on it.
	if err := ctl.DeployAtStart(); err != nil {
		fmt.Fprintf(stderr, "dynobox: %v; no dyno was started\n", err)
		return exitFailure
	}
	if err := sup.Start(); err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}
	if o.watch {
		watched := watchApp(ctl, app, state.Path, stopping)
		defer func() {
			select {
			case <-watched:
			case <-time.After(5 * time.Second):
			}
		}()
	}

	var crashes <-chan runner.Crash
	if o.exitOnCrash {
		crashes = sup.Crashes()
	}
	status := exitOK
	select {
	case sig := <-sigs:
		bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("Received %s: stopping all dynos (again to kill at once)", signalName(sig)))
	case crash := <-crashes:
		bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("%s exited with status %d: stopping all dynos (--exit-on-crash)", crash.Dyno, crash.Status))
		status = crash.Status
	}
	stop()
	stopped := make(chan struct{})
	go func() { sup.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-sigs:
		sup.Kill()
		<-stopped
	}
	return status
}

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// absDir checks that dir is a directory and makes it absolute.
func absDir(dir string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", errors.New(dir + " is not a directory")
	}
	return filepath.Abs(dir)
}

// startAddons starts the app's add-ons and waits until each accepts
// connections; a signal meanwhile cancels the start. On failure the
// started ones are stopped again and the error names the add-on.
func startAddons(specs []addons.Spec, names []string, stateDir string, ephemeral bool, bus *logbus.Bus, sigs <-chan os.Signal, stderr io.Writer) (*addons.Set, int) {
	if len(specs) == 0 {
		return addons.NewSet(), exitOK
	}
	set, err := runner.BuildAddons(specs, names, stateDir, ephemeral, func(name, line string) {
		bus.Event(logbus.SourceApp, name, line)
	})
	if err != nil {
		return nil, reportLoadError(stderr, err)
	}
	bus.Event(logbus.SourceHeroku, "dynobox", "Starting add-ons: "+strings.Join(names, ", "))
	ctx, cancel := context.WithTimeout(context.Background(), runner.AddonStartTimeout)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	started := time.Now()
	if err := set.Start(ctx); err != nil {
		fmt.Fprintf(stderr, "dynobox: %v; no dyno was started\n", err)
		return nil, exitFailure
	}
	for _, st := range set.List() {
		bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("%s is up on %s (sets %s)", st.Name, st.Addr, strings.Join(addons.SortedEnv(st.Config), ", ")))
	}
	bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("Add-ons ready in %s", time.Since(started).Round(time.Millisecond)))
	return set, exitOK
}

// stopAddons stops the add-ons once the dynos are down, within the grace period.
func stopAddons(set *addons.Set) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	set.Stop(ctx)
}

// routerHost is where a browser on this machine reaches the router.
func routerHost(bind string) string {
	if bind == "" || bind == "0.0.0.0" || bind == "::" {
		return "localhost"
	}
	return bind
}
