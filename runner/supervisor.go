// Package runner is the dyno manager: it runs a formation of Procfile
// processes as supervised dynos, restarts them when they crash, and stops
// them — and everything they started — cleanly.
//
// Its contract: it never prints nor exits (the watchdog, a re-exec of the
// binary, is the one process that writes to its own stderr); what happens
// to the app goes onto the log bus as platform events, and what fails is
// returned as a wrapped, lowercase error. A problem the user must fix —
// bad input files, a bad formation, a taken add-on name — is an
// *InputError, which the CLI maps to exit 2 and the API to HTTP 400.
// Nothing here imports web/ or the command layer: they ask runner, through
// the Controller's methods, never the other way round.
package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dynobox/dynobox/internal/ports"
	"github.com/dynobox/dynobox/procfile"
	"github.com/dynobox/dynobox/runner/logbus"
)

// Config is everything a Supervisor needs; main builds it from flags and files.
type Config struct {
	AppDir      string
	Env         []string // KEY=VALUE for every dyno, without PORT, DYNO and PS
	Slots       []Slot   // the planned formation, with ports
	BootTimeout time.Duration
	StopTimeout time.Duration
	ExitOnCrash bool
	Backoff     Backoff
	Bus         *logbus.Bus
	Session     string

	// Procfile and PublicPort let the formation change at runtime (Scale).
	// The router always holds PublicPort: no dyno gets it, and restarting a
	// web dyno starts its replacement first and stops the old one once the
	// new one is up (Heroku's preboot).
	Procfile   *procfile.Procfile
	PublicPort int
	// Reserved are ports of dynobox's own listeners (the dashboard): no
	// dyno gets one.
	Reserved []int
	// NoCgroups keeps dynos out of cgroups, leaving the process group and
	// the session marker (the fall-backs where cgroups cannot be made).
	NoCgroups bool
	// OnState, when set, hears every dyno state change (for history and
	// the router); it must not block.
	OnState func(StateChange)
	// Now, when set, is the clock that measures how long a dyno stayed up
	// (Backoff.StableAfter); tests set one they advance by hand, so that
	// a slow machine cannot make a quick crash look stable.
	Now func() time.Time
}

// now is the supervisor's clock (Config.Now, else the wall clock).
func (s *Supervisor) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

// StateChange is one dyno changing state.
type StateChange struct {
	Dyno, Type string
	From, To   State
	Time       time.Time
	ExitStatus *int // with Crashed and Down: the last exit status
}

// Crash is a dyno's process exiting while it was meant to run.
type Crash struct {
	Dyno   string
	Status int
}

// Supervisor owns the dynos of one app. It is not a loop but a set of
// commands, each of which does its work and returns: Start launches the
// dynos (each runs its restart loop on a goroutine of its own), Scale,
// Restart and StopDynos change them, Stop ends them all gracefully and
// returns once every dyno goroutine and process is gone, and Kill, called
// while a Stop waits (a second Ctrl-C), cuts its grace short.
type Supervisor struct {
	cfg     Config
	crashes chan Crash

	// portMu serialises choosing ports for new dynos (Scale, preboot),
	// which probes ports without holding mu: a stop or a snapshot never
	// waits for a port search.
	portMu sync.Mutex

	cg *cgroups // the session's cgroup; nil where cgroups cannot be made

	mu      sync.Mutex
	dynos   []*dyno // formation order; scaled-down dynos leave once stopped
	env     []string
	root    RootFunc // where each dyno process runs; nil: the app directory (slugroot.go)
	started bool
	closing bool
	changed chan struct{} // closed and replaced at every state or formation change
}

// New returns a supervisor; it starts nothing until Start.
func New(cfg Config) *Supervisor {
	if cfg.Backoff == (Backoff{}) {
		cfg.Backoff = DefaultBackoff
	}
	return &Supervisor{cfg: cfg, crashes: make(chan Crash, 1), env: cfg.Env, changed: make(chan struct{})}
}

// Start launches every planned dyno and returns at once; dynos report their
// states on the log bus.
func (s *Supervisor) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("supervisor already started")
	}
	s.started = true
	if !s.cfg.NoCgroups {
		s.cg = openCgroups(s.cfg.Session)
	}
	for _, slot := range s.cfg.Slots {
		s.launchLocked(slot)
	}
	return nil
}

func (s *Supervisor) launchLocked(slot Slot) {
	d := newDyno(s, slot)
	s.dynos = append(s.dynos, d)
	s.notifyLocked()
	go d.run()
}

// Crashes delivers the first crash (only with ExitOnCrash does anyone act on it).
func (s *Supervisor) Crashes() <-chan Crash { return s.crashes }

func (s *Supervisor) reportCrash(name string, status int) {
	select {
	case s.crashes <- Crash{Dyno: name, Status: status}:
	default:
	}
}

func (s *Supervisor) stateChanged(slot Slot, from, to State, status *int) {
	if s.cfg.OnState != nil {
		s.cfg.OnState(StateChange{Dyno: slot.Name, Type: slot.Type, From: from, To: to, Time: time.Now(), ExitStatus: status})
	}
	s.mu.Lock()
	s.notifyLocked()
	s.mu.Unlock()
}

func (s *Supervisor) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Changed returns a channel closed at the next dyno state or formation change.
func (s *Supervisor) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Stop asks every dyno to stop gracefully and waits until all have.
func (s *Supervisor) Stop() {
	s.mu.Lock()
	s.closing = true
	dynos := append([]*dyno(nil), s.dynos...)
	s.mu.Unlock()
	for _, d := range dynos {
		d.requestStop()
	}
	for _, d := range dynos {
		<-d.done
	}
	if s.cg != nil {
		killCgroup(s.cg.dir) // empty by now; anything else started in it goes too
	}
}

// Kill cuts any grace period short: remaining processes get SIGKILL now.
func (s *Supervisor) Kill() {
	s.mu.Lock()
	s.closing = true
	dynos := append([]*dyno(nil), s.dynos...)
	s.mu.Unlock()
	for _, d := range dynos {
		d.requestStop()
		d.requestKill()
	}
}

// Dynos returns a snapshot of every dyno, in formation order.
func (s *Supervisor) Dynos() []DynoInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DynoInfo, len(s.dynos))
	for i, d := range s.dynos {
		out[i] = d.info()
	}
	return out
}

// Formation counts the dynos of each type that are meant to run.
func (s *Supervisor) Formation() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := map[string]int{}
	if s.cfg.Procfile != nil {
		for _, n := range s.cfg.Procfile.Names() {
			if n != ReleaseType {
				counts[n] = 0
			}
		}
	}
	for _, d := range s.dynos {
		if !isClosed(d.stop) && !d.replacing {
			counts[d.slot.Type]++
		}
	}
	return counts
}

// ErrUnknownType is returned (as an *InputError) for a process type the
// Procfile lacks.
var ErrUnknownType = errors.New("unknown process type")

// Scale sets the number of dynos of a type: new ones start at once on
// fresh ports, the highest-numbered ones above n are stopped. Dynos of
// other types are not touched.
func (s *Supervisor) Scale(typ string, n int) error {
	s.portMu.Lock()
	defer s.portMu.Unlock()
	s.mu.Lock()
	if s.cfg.Procfile == nil {
		s.mu.Unlock()
		return errors.New("this supervisor cannot scale")
	}
	entry, ok := s.cfg.Procfile.Lookup(typ)
	if !ok || typ == ReleaseType {
		s.mu.Unlock()
		return &InputError{fmt.Errorf("%w %q; the Procfile has: %s", ErrUnknownType, typ, strings.Join(scalableTypes(s.cfg.Procfile), ", "))}
	}
	if s.closing {
		s.mu.Unlock()
		return errors.New("dynobox is stopping")
	}
	var live []*dyno
	used := s.usedPortsLocked()
	for _, d := range s.dynos {
		if d.slot.Type == typ && !isClosed(d.stop) && !d.replacing {
			live = append(live, d)
		}
	}
	for i := len(live); i > n; i-- {
		d := live[i-1]
		d.requestStop()
		go s.remove(d)
	}
	s.notifyLocked()
	s.mu.Unlock()

	// Ports are probed without the lock (portMu keeps other choosers out).
	var slots []Slot
	for i := len(live) + 1; i <= n; i++ {
		name := fmt.Sprintf("%s.%d", typ, i)
		port, err := s.portFor(typ, i, name, used)
		if err != nil {
			return err
		}
		used[port] = true
		slots = append(slots, Slot{Type: typ, Index: i, Name: name, Command: entry.Command, Port: port})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errors.New("dynobox is stopping")
	}
	for _, slot := range slots {
		s.launchLocked(slot)
	}
	return nil
}

// usedPortsLocked is every port a dyno has, dynobox's own, and the public
// port (the router's); the caller holds mu.
func (s *Supervisor) usedPortsLocked() map[int]bool {
	used := map[int]bool{s.cfg.PublicPort: true}
	for _, r := range s.cfg.Reserved {
		used[r] = true
	}
	for _, d := range s.dynos {
		used[d.slot.Port] = true
	}
	return used
}

// portFor picks a port in foreman's pattern for instance i of typ, or the
// next free one that no dyno and no listener of dynobox's has. Called
// with portMu held and mu not held: it probes ports.
func (s *Supervisor) portFor(typ string, i int, name string, used map[int]bool) (int, error) {
	ti := 0
	for k, e := range s.cfg.Procfile.Entries {
		if e.Name == typ {
			ti = k
		}
	}
	return FreePort(name, PatternPort(s.cfg.PublicPort, ti, i), used, ports.Available)
}

// remove drops a stopped dyno from the list once its goroutine is done.
func (s *Supervisor) remove(d *dyno) {
	<-d.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.dynos {
		if x == d {
			s.dynos = append(s.dynos[:i], s.dynos[i+1:]...)
			break
		}
	}
	s.notifyLocked()
}

// Select names the dynos a ps:restart or ps:stop applies to: all, one
// type, or one dyno.
type Select struct {
	Type string // "web"
	Dyno string // "web.1"
}

func (sel Select) match(slot Slot) bool {
	switch {
	case sel.Dyno != "":
		return slot.Name == sel.Dyno
	case sel.Type != "":
		return slot.Type == sel.Type
	}
	return true
}

// Restart restarts the selected dynos (stopped ones start again) and
// returns their names.
func (s *Supervisor) Restart(sel Select) ([]string, error) { return s.control(sel, ctlRestart) }

// StopDynos stops the selected dynos until they are restarted or rescaled.
func (s *Supervisor) StopDynos(sel Select) ([]string, error) { return s.control(sel, ctlStop) }

func (s *Supervisor) control(sel Select, c control) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, d := range s.dynos {
		if isClosed(d.stop) || !sel.match(d.slot) {
			continue
		}
		if d.replacing {
			continue // a replacement is already booting; it gets this request
		}
		names = append(names, d.slot.Name)
		if c == ctlRestart && d.slot.Type == "web" && d.info().State != Down {
			d.replacing = true
			go s.preboot(d)
			continue
		}
		d.send(c)
	}
	if len(names) == 0 && (sel.Dyno != "" || sel.Type != "") {
		what := sel.Dyno
		if what == "" {
			what = sel.Type
		}
		return nil, fmt.Errorf("no dyno matches %q", what)
	}
	return names, nil
}

// preboot replaces a running web dyno without a gap: the new dyno starts
// on a fresh port, and the old one is stopped once the new one is up (or
// has failed to boot, so that the formation still converges).
func (s *Supervisor) preboot(old *dyno) {
	s.portMu.Lock()
	s.mu.Lock()
	used := s.usedPortsLocked()
	s.mu.Unlock()
	slot := old.slot
	slot.Command = old.command()
	// The next free port after its own: in the documented pattern's
	// "or the next free port", and never one of dynobox's.
	port, err := s.portFor(slot.Type, slot.Index, slot.Name, used)
	s.mu.Lock()
	if s.closing || err != nil {
		old.replacing = false
		closing := s.closing
		s.mu.Unlock()
		s.portMu.Unlock()
		if !closing {
			old.event("Restarting without preboot: %v", err)
			old.send(ctlRestart)
		}
		return
	}
	slot.Port = port
	nd := newDyno(s, slot)
	nd.restarts = old.info().Restarts // the crashes of this dyno so far; a restart is not one
	s.dynos = append(s.dynos, nd)
	s.notifyLocked()
	go nd.run()
	s.mu.Unlock()
	s.portMu.Unlock()
	old.event("Restarting with preboot: %s starts on port %d, then the old process stops", slot.Name, slot.Port)

	deadline := time.NewTimer(s.cfg.BootTimeout + time.Second)
	defer deadline.Stop()
wait:
	for {
		changed := s.Changed()
		if st := nd.info().State; st == Up || st == Crashed || isClosed(nd.done) {
			break
		}
		select {
		case <-changed:
		case <-deadline.C:
			break wait
		case <-old.stop:
			break wait
		}
	}
	old.requestStop()
	s.remove(old)
}

// WebStatus says whether the web dynos can take requests.
type WebStatus int

const (
	WebReady    WebStatus = iota // at least one web dyno is up
	WebNone                      // no web dynos: no web type, scaled to 0, or stopped
	WebStarting                  // none up yet, but some are starting or will restart
	WebCrashed                   // every web dyno has crashed
)

// Web returns the web dynos that are up, and the status of the web type.
func (s *Supervisor) Web() ([]DynoInfo, WebStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var up, stopping []DynoInfo
	starting, crashed := 0, 0
	for _, d := range s.dynos {
		if d.slot.Type != "web" {
			continue
		}
		info, fresh, draining, restartingNow := d.webSnapshot()
		switch {
		case info.State == Up && (isClosed(d.stop) || draining):
			// Told to stop (replaced by preboot, scaled down, ps:stop): it
			// finishes its requests but gets new ones only if no other dyno
			// is up.
			stopping = append(stopping, info)
		case info.State == Up: // even one being replaced: it serves until its replacement is up
			up = append(up, info)
		case isClosed(d.stop):
		case info.State == Starting || restartingNow || fresh:
			starting++
		case info.State == Crashed:
			crashed++
		}
	}
	if !s.started {
		for _, slot := range s.cfg.Slots {
			if slot.Type == "web" {
				starting++ // the first build or release phase is still running
			}
		}
	}
	if len(up) == 0 {
		up = stopping
	}
	switch {
	case len(up) > 0:
		return up, WebReady
	case starting > 0:
		return nil, WebStarting
	case crashed > 0:
		return nil, WebCrashed
	}
	return nil, WebNone
}

// Settling reports whether a dyno is on its way to a new process: a
// restart asked for and not begun, a process stopping, a replacement or a
// first start still booting. The file watcher waits for it, so that what
// booting dynos write counts as the deploy's, not as a save.
func (s *Supervisor) Settling() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dynos {
		if isClosed(d.stop) {
			if !isClosed(d.done) {
				return true // replaced or scaled down, still stopping
			}
			continue
		}
		d.mu.Lock()
		busy := d.state == Starting || d.draining || !d.booted || d.replacing || len(d.ctl) > 0
		d.mu.Unlock()
		if busy {
			return true
		}
	}
	return false
}

// SetEnv replaces the environment new processes start with; it does not
// restart anything by itself.
func (s *Supervisor) SetEnv(env []string) {
	s.mu.Lock()
	s.env = env
	s.mu.Unlock()
}

func scalableTypes(pf *procfile.Procfile) []string {
	var out []string
	for _, n := range pf.Names() {
		if n != ReleaseType {
			out = append(out, n)
		}
	}
	return out
}

// DynoEnv builds the environment of a dyno or one-off dyno named name:
// PORT, DYNO and PS (foreman's name for it) set, the app's bin/ (and
// node_modules/.bin for Node apps) first on PATH, as Heroku's buildpacks
// arrange, and the session marker.
func DynoEnv(base []string, appDir, name string, port int, session string) []string {
	env := make([]string, 0, len(base)+5)
	path := ""
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "PORT", "DYNO", "PS", SessionVar:
			continue
		case "PATH":
			path = v
			continue
		}
		env = append(env, kv)
	}
	dirs := []string{filepath.Join(appDir, "bin")}
	if _, err := os.Stat(filepath.Join(appDir, "node_modules", ".bin")); err == nil {
		dirs = append(dirs, filepath.Join(appDir, "node_modules", ".bin"))
	}
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	env = append(env,
		"PATH="+strings.Join(dirs, ":")+":"+path,
		"PORT="+strconv.Itoa(port),
		"DYNO="+name,
		"PS="+name,
		SessionVar+"="+session,
	)
	return env
}
