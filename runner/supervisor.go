// Package runner is the dyno manager: it runs a formation of Procfile
// processes as supervised dynos, restarts them when they crash, and stops
// them — and everything they started — cleanly.
package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

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
}

// Crash is a dyno's process exiting while it was meant to run.
type Crash struct {
	Dyno   string
	Status int
}

// Supervisor owns the dynos of one app.
type Supervisor struct {
	cfg     Config
	mu      sync.Mutex
	dynos   []*dyno
	crashes chan Crash
	started bool
}

// New returns a supervisor; it starts nothing until Start.
func New(cfg Config) *Supervisor {
	if cfg.Backoff == (Backoff{}) {
		cfg.Backoff = DefaultBackoff
	}
	return &Supervisor{cfg: cfg, crashes: make(chan Crash, 1)}
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
	for _, slot := range s.cfg.Slots {
		d := newDyno(s, slot)
		s.dynos = append(s.dynos, d)
		go d.run()
	}
	return nil
}

// Crashes delivers the first crash (only with ExitOnCrash does anyone act on it).
func (s *Supervisor) Crashes() <-chan Crash { return s.crashes }

func (s *Supervisor) reportCrash(name string, status int) {
	select {
	case s.crashes <- Crash{Dyno: name, Status: status}:
	default:
	}
}

// Stop asks every dyno to stop gracefully and waits until all have.
func (s *Supervisor) Stop() {
	s.mu.Lock()
	dynos := append([]*dyno(nil), s.dynos...)
	s.mu.Unlock()
	for _, d := range dynos {
		d.requestStop()
	}
	for _, d := range dynos {
		<-d.done
	}
}

// Kill cuts any grace period short: remaining processes get SIGKILL now.
func (s *Supervisor) Kill() {
	s.mu.Lock()
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

// dynoEnv is the environment of one dyno: the app's env, its port and name,
// and the session marker that lets the watchdog find its processes.
func (s *Supervisor) dynoEnv(slot Slot) []string {
	return DynoEnv(s.cfg.Env, s.cfg.AppDir, slot.Name, slot.Port, s.cfg.Session)
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

// shellScript is what /bin/sh -c runs: the app's .profile.d/*.sh and then
// .profile sourced first when present (as on Heroku), then the command.
func shellScript(appDir, command string) string {
	var pre []string
	if m, _ := filepath.Glob(filepath.Join(appDir, ".profile.d", "*.sh")); len(m) > 0 {
		pre = append(pre, `for f in .profile.d/*.sh; do [ -r "$f" ] && . "./$f"; done; unset f`)
	}
	if _, err := os.Stat(filepath.Join(appDir, ".profile")); err == nil {
		pre = append(pre, `. ./.profile`)
	}
	if len(pre) == 0 {
		return command
	}
	return strings.Join(pre, "\n") + "\n" + command
}
