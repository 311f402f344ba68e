package runner

// An Instance is one run of an app — what "dynobox start" is.
//
// Its contract, in three calls:
//
//   - Open takes what must be had before anything runs, and can fail
//     because of the user's files or the machine: the app's state
//     directory (locked), its files (Procfile, env files, app.json), its
//     state database, the formation, and the public and dashboard ports.
//     It starts nothing that runs: no goroutine outlives it, no process.
//     When it fails it undoes what it took and returns the error.
//   - Run starts everything, in order — the log bus and the watchdog, the
//     building page on the public port, the add-ons, the router, API and
//     dashboard (through Options.Front), the first build and release, the
//     dynos, the watcher — then supervises until its context ends (or a
//     dyno crashes, with ExitOnCrash), and stops the dynos. It returns at
//     the first step that fails.
//   - Close undoes what Open and Run did, in reverse order, once; it is
//     safe to call after either failed, and returns what failed to stop
//     (an add-on's final save).
//
// No step prints or exits: each returns a wrapped error (an *InputError
// when the user must fix something); what the user should know along the
// way goes to Options.Notice or onto the log bus. Close saves the run's
// failures — Open's, Run's and its own — at the end of the app's log
// history, so that `dynobox logs` on the stopped app says why it stopped.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/state"
)

// Options say how to run the app. Zero values take the defaults start's
// flags have.
type Options struct {
	Load     LoadOptions // where the app's files are; Open sets Secret
	StateDir string      // the state directory's path (see StateDirPath)
	// Formation is start's arguments ("web=2 worker=1"); none: the
	// formation ps:scale saved, else the default one.
	Formation []string
	Bind      string // the router's address (default 127.0.0.1)
	// Dashboard is the dashboard's address: "" for 127.0.0.1 at the public
	// port + 1000 (another free port when that one is taken), "off" for none.
	Dashboard string
	// Socket is the API's socket path, for info.
	Socket string

	StopTimeout, BootTimeout time.Duration
	ExitOnCrash              bool
	Watch                    bool   // deploy on save, reload env files and the Procfile
	Build                    string // BuildAuto, BuildNone or a command

	// Terminal is where the log bus writes for the user.
	Terminal *logbus.Terminal
	// Notice hears what the user should know before the log bus runs: a
	// warning about the app's files, processes a crashed run left behind.
	Notice func(msg string)
	// Front serves the app's web side; nil serves none (see Front).
	Front Front
	// Kill, once closed, cuts the dynos' stop short: SIGKILL at once
	// (a second Ctrl-C).
	Kill <-chan struct{}
}

// Front serves the web side of a run: the building page and then the
// router on the public port, the API socket and the dashboard. runner
// cannot make them — web/ imports runner, never the other way round
// (cli → web → runner, TestImportsFlowOneWay) — so the command layer
// implements Front with web/ and Run calls it, in this order:
//
//	Hold(ctl, public, phase)  before the add-ons start
//	Serve(ctl, dashboard)     once they are up, before the first build
//	Phase(…)                  as the start goes on; PhaseRunning last
//
// Hold and Serve make what serves and start nothing; Run runs each
// Service they return on a goroutine of its own, and Close ends them
// (their context ends) in reverse order and waits until each has
// returned. Phase must not block.
type Front interface {
	// Hold returns the building page on the public port, saying phase,
	// that answers while no dyno can serve it; its Run closes the port.
	Hold(ctl *Controller, public net.Listener, phase Phase) Service
	// Serve returns, over ctl, the router on the held port, the API on
	// ctl.Socket and, unless dashboard is nil, the dashboard on it. It
	// fails when it cannot take the socket.
	Serve(ctl *Controller, dashboard net.Listener) (Service, error)
	// Phase says how far the start has come.
	Phase(Phase)
}

// A Service is anything that loops, in dynobox's one lifecycle shape:
// Run serves until ctx ends, then stops and returns once it has cleaned
// up (nil, or why it could not serve on).
type Service interface {
	Run(ctx context.Context) error
}

// Phase is how far a start has come, in the building page's words.
type Phase string

const (
	PhaseAddons   Phase = "starting its add-ons"
	PhaseStarting Phase = "starting"
	PhaseBuilding Phase = "building"
	// PhaseRunning: the dynos were launched; the router takes requests
	// (web dynos boot, or H14 without any).
	PhaseRunning Phase = "running"
)

// Interrupted is the cause (context.WithCancelCause) of a run stopped by
// a signal: Run names the signal in what it logs and returns.
type Interrupted struct{ Signal string } // "SIGINT"

func (i *Interrupted) Error() string { return "received " + i.Signal }

// CrashError is how a run with ExitOnCrash ends: a dyno exited. The log
// said so; the command exits with the dyno's status.
type CrashError struct{ Crash }

func (c *CrashError) Error() string {
	return fmt.Sprintf("%s exited with status %d", c.Dyno, c.Status)
}

// Instance is one run of an app; see Open, Run and Close.
type Instance struct {
	o Options

	state    *StateDir
	session  string
	app      *App
	store    *state.Store
	slots    []Slot
	specs    []addons.Spec // the add-ons, as app.json and addons:create declare them
	names    []string
	public   net.Listener // the router's port
	dash     net.Listener // the dashboard's, nil when off
	dashURL  string
	reserved []int // ports no dyno may get: the dashboard's

	// What Run makes.
	bus   *logbus.Bus
	hub   *logbus.Hub
	set   *addons.Set
	ctl   *Controller
	sup   *Supervisor
	stop  context.CancelFunc // ends the run's context: no more deploys, the watcher stops
	ran   bool
	dynos sync.Once // the dynos stop once

	mu       sync.Mutex
	cleanups []func() error
	failures []error // saved into the log history by Close
	closed   bool
}

// Open locks the app's state directory — stopping what a crashed
// previous run left behind —, reads the app's files and state, plans the
// formation and takes the public and dashboard ports. It starts nothing.
func Open(ctx context.Context, o Options) (*Instance, error) {
	if o.Notice == nil {
		o.Notice = func(string) {}
	}
	if o.Bind == "" {
		o.Bind = "127.0.0.1"
	}
	in := &Instance{o: o}
	lock := func() error { return in.lock(ctx) }
	for _, step := range []func() error{lock, in.load, in.listen} {
		if err := ctx.Err(); err != nil {
			in.Close()
			return nil, err
		}
		if err := step(); err != nil {
			in.fail(err)
			in.Close()
			return nil, err
		}
	}
	return in, nil
}

// App is the app as Open read it.
func (in *Instance) App() *App { return in.app }

// onExit queues f to run at Close, before what was queued earlier.
func (in *Instance) onExit(f func() error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.cleanups = append(in.cleanups, f)
}

// fail remembers err for the log history (Close saves it); a crash that
// ExitOnCrash reports is no failure of dynobox's.
func (in *Instance) fail(err error) {
	var crash *CrashError
	if err == nil || errors.As(err, &crash) {
		return
	}
	in.mu.Lock()
	in.failures = append(in.failures, err)
	in.mu.Unlock()
}

// Close stops what Open and Run started, the last started first, and
// returns what failed; a second Close does nothing.
func (in *Instance) Close() error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil
	}
	in.closed = true
	cleanups := in.cleanups
	in.cleanups = nil
	in.mu.Unlock()
	var errs []error
	for i := len(cleanups) - 1; i >= 0; i-- {
		if err := cleanups[i](); err != nil {
			errs = append(errs, err)
			in.fail(err) // before the log history is saved (queued earlier)
		}
	}
	return errors.Join(errs...)
}

// lock takes the app's state directory, stopping what a crashed previous
// run left behind. A git push releasing the stopped app holds it while
// its release command runs: the start waits for it, and then runs that
// release.
func (in *Instance) lock(ctx context.Context) error {
	appDir, err := AppDir(in.o.Load.Dir)
	if err != nil {
		return &InputError{fmt.Errorf("app directory: %w", err)}
	}
	if in.state, err = OpenStateDir(in.o.StateDir); err != nil {
		return err
	}
	in.session = NewSession()
	prev, err := in.state.Lock(appDir, in.session, HolderStart)
	for waited := 0; err != nil; {
		var busy *AlreadyRunningError
		if !errors.As(err, &busy) || busy.Holder != HolderPush {
			return err
		}
		if busy.PID != waited {
			in.o.Notice(fmt.Sprintf("waiting for a git push (pid %d) to finish releasing the app", busy.PID))
			waited = busy.PID
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		prev, err = in.state.Lock(appDir, in.session, HolderStart)
	}
	in.onExit(func() error { in.state.Unlock(); return nil })
	if prev != nil {
		// The last run died without cleaning up (kill -9): stop what it left.
		if n := SweepSession(prev.Session, 2*time.Second); n > 0 {
			in.o.Notice(fmt.Sprintf("stopped %d process(es) left behind by a previous run (pid %d)", n, prev.PID))
		}
	}
	return nil
}

// AppDir checks that dir is a directory and makes it absolute.
func AppDir(dir string) (string, error) {
	if dir == "" {
		dir = "."
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", errors.New(dir + " is not a directory")
	}
	return filepath.Abs(dir)
}

// load reads the app's files and state and plans the formation.
func (in *Instance) load() error {
	in.o.Load.Secret = NewSecrets(in.state.File("secrets.json")).Get
	app, err := LoadApp(in.o.Load)
	if err != nil {
		app, err = loadPushed(in.o.Load, in.state.Path, app, err)
	}
	if app != nil {
		for _, w := range app.Warnings {
			in.o.Notice(fmt.Sprintf("warning: %s", w))
		}
	}
	if err != nil {
		return err
	}
	in.app = app
	if in.store, err = state.Open(in.state.File("state.db")); err != nil {
		return err
	}
	in.onExit(func() error { return in.store.Close() })
	in.onExit(in.saveFailures) // runs just before the store closes
	rels, err := in.store.Releases(1)
	if err != nil {
		return fmt.Errorf("reading the releases: %w", err)
	}
	if len(rels) == 0 {
		if _, err := in.store.AddRelease("Initial release", ""); err != nil {
			return fmt.Errorf("recording the initial release: %w", err)
		}
	}
	if in.specs, in.names, err = AddonSpecs(app, in.store); err != nil {
		return err
	}
	if p := DashboardPort(in.o.Dashboard, app.Port); p > 0 {
		// The dashboard's default port (public + 1000) is the port of the
		// 11th process type's first dyno in foreman's pattern.
		in.reserved = []int{p}
	}
	if pf := PushedProcfile(in.store, in.state.Path); pf != nil {
		app.Procfile = pf // the current release is a push: its Procfile runs
	}
	args := in.o.Formation
	if len(args) == 0 {
		args = in.savedFormation()
	}
	slots, err := PlanFormation(app, args, in.reserved...)
	if err != nil {
		return err
	}
	if len(slots) == 0 && !(len(app.Procfile.Entries) == 0 && buildNamesTypes(app.Dir)) { // the first build's release names them
		return &InputError{errors.New("the formation has no dynos; name some, e.g. \"dynobox start web=1\"")}
	}
	in.slots = slots
	return nil
}

// savedFormation is the formation ps:scale remembered, as start arguments;
// it overrides the default formation.
func (in *Instance) savedFormation() []string {
	saved, err := in.store.Formation()
	if err != nil || len(saved) == 0 {
		return nil
	}
	var args []string
	for t, n := range saved {
		if _, ok := in.app.Procfile.Lookup(t); ok && t != ReleaseType {
			args = append(args, fmt.Sprintf("%s=%d", t, n))
		}
	}
	if len(args) > 0 {
		for t, n := range DefaultFormation(in.app.Procfile, in.app.AppJSON) {
			if _, ok := saved[t]; !ok {
				args = append(args, fmt.Sprintf("%s=%d", t, n))
			}
		}
	}
	return args
}

// listen takes the public port for the router and the dashboard's.
func (in *Instance) listen() error {
	l, err := net.Listen("tcp", net.JoinHostPort(in.o.Bind, strconv.Itoa(in.app.Port)))
	if err != nil {
		return fmt.Errorf("port %d is in use by another process; pass -p PORT or stop it (%v)", in.app.Port, err)
	}
	in.public = l
	in.onExit(func() error { l.Close(); return nil })
	addr := DashboardAddr(in.o.Dashboard, in.app.Port)
	if addr == "" {
		return nil
	}
	if in.dash, in.dashURL, err = ListenDashboard(addr, in.app.Port); err != nil {
		return fmt.Errorf("dashboard: %v; pass --dashboard ADDR or --dashboard off", err)
	}
	in.onExit(func() error { in.dash.Close(); return nil })
	return nil
}

// saveFailures appends the run's failures to the log history, one line
// each as dynobox printed them, after the bus's last lines: `logs` on the
// stopped app reads them back.
func (in *Instance) saveFailures() error {
	in.mu.Lock()
	failures := in.failures
	in.mu.Unlock()
	var saved []state.LogLine
	for _, err := range failures {
		for _, l := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
			saved = append(saved, state.LogLine{At: time.Now(), Source: logbus.SourceHeroku, Process: "dynobox", Text: l})
		}
	}
	if len(saved) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in.store.AppendLogs(ctx, saved, HistoryLines) // best effort, as the history is
	return nil
}

// DashboardAddr is where the dashboard listens: flag (--dashboard), by
// default 127.0.0.1:PORT+1000; "" when off.
func DashboardAddr(flag string, public int) string {
	switch flag {
	case "off":
		return ""
	case "":
		return fmt.Sprintf("127.0.0.1:%d", public+1000)
	}
	return flag
}

// DashboardPort is the dashboard's port, or 0: no dyno may get it.
func DashboardPort(flag string, public int) int {
	_, port, err := net.SplitHostPort(DashboardAddr(flag, public))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}

// ListenDashboard takes the dashboard's address, before the controller
// that reports it (info's dashboard_url) is made: it returns the listener
// and the URL a browser on this machine opens. The default address
// (127.0.0.1 at the app's port + 1000) is a convenience: when another
// process holds it, the dashboard takes a free port instead, as a dyno
// does, and the URL printed at start says which. An address given with
// --dashboard must be free.
func ListenDashboard(addr string, appPort int) (l net.Listener, url string, err error) {
	l, err = net.Listen("tcp", addr)
	if err != nil && addr == fmt.Sprintf("127.0.0.1:%d", appPort+1000) {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, "", err
	}
	urlHost := l.Addr().String()
	host, _, _ := net.SplitHostPort(urlHost)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		urlHost = net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return l, "http://" + urlHost + "/", nil
}
