package runner

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/internal/proc"
)

// StateDir is an app's private state directory (.dynobox/, mode 0700).
type StateDir struct {
	Path    string
	lock    *os.File
	appLock *os.File // the app directory itself, flocked
}

// StateDirPath is the state directory of the app in appDir: flag (the
// --state-dir flag) when given, else appDir/.dynobox.
func StateDirPath(appDir, flag string) string {
	if flag != "" {
		return flag
	}
	return filepath.Join(appDir, ".dynobox")
}

// OpenStateDir creates the directory, mode 0700, if it does not exist. An
// existing directory keeps its mode: "--state-dir /tmp" must not make
// /tmp private. A directory dynobox made, or a .dynobox, gets a
// .gitignore that ignores everything in it: Postgres data, secrets and
// kept builds (hundreds of MB) never belong in the app's repository,
// whatever a habitual "git add ." does.
func OpenStateDir(path string) (*StateDir, error) {
	created := false
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(path, 0o700); err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
		created = true
	} else if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if created || filepath.Base(path) == ".dynobox" {
		gi := filepath.Join(path, ".gitignore")
		if _, err := os.Lstat(gi); errors.Is(err, fs.ErrNotExist) {
			if err := os.WriteFile(gi, []byte("# dynobox's state: never commit it\n*\n"), 0o600); err != nil {
				return nil, fmt.Errorf("state directory: %w", err)
			}
		}
	}
	return &StateDir{Path: path}, nil
}

// File returns the path of name inside the state directory.
func (s *StateDir) File(name string) string { return filepath.Join(s.Path, name) }

// Holder is what holds an app's lock: a start, or a verb that started
// the app's add-ons because none ran (a one-off dyno, a push's release).
type Holder string

const (
	HolderStart Holder = "start"
	HolderRun   Holder = "run"  // dynobox run
	HolderPush  Holder = "push" // a git push's release, while no dynobox runs
)

// AlreadyRunningError reports a live process holding the app's lock.
type AlreadyRunningError struct {
	PID    int
	AppDir string
	Holder Holder // "" when it did not say (a dynobox of before holders)
}

func (e *AlreadyRunningError) Error() string {
	switch e.Holder {
	case HolderRun:
		return fmt.Sprintf("a one-off dyno (dynobox run, pid %d) has the add-ons of %s started; wait for it to end, or give this one throwaway add-ons with --ephemeral", e.PID, e.AppDir)
	case HolderPush:
		return fmt.Sprintf("a git push (pid %d) is releasing %s with its add-ons started; wait for it to end", e.PID, e.AppDir)
	}
	return fmt.Sprintf("dynobox is already running for %s (pid %d); stop it first, or use its add-ons with \"dynobox run\"", e.AppDir, e.PID)
}

// Previous describes the run that held the lock before us.
type Previous struct {
	PID     int
	Session string
	Holder  Holder
}

// Lock takes the app's exclusive start lock. flock is released by the
// kernel when its holder dies, so a lock left by kill -9 is simply free;
// the returned Previous names that crashed run's session so its
// survivors can be swept.
//
// The app directory is flocked too: deleting the state directory while
// dynobox runs deletes start.lock with it, and a second start would take
// a new one and run a second supervisor for the same app.
func (s *StateDir) Lock(appDir, session string, holder Holder) (*Previous, error) {
	app, err := os.Open(appDir)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(app.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		app.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &AlreadyRunningError{PID: proc.FlockHolder(appDir), AppDir: appDir, Holder: s.holder()}
		}
		return nil, fmt.Errorf("lock %s: %w", appDir, err)
	}
	prev, err := s.lockStateDir(appDir, session, holder)
	if err != nil {
		app.Close()
		return nil, err
	}
	s.appLock = app
	return prev, nil
}

// lockSweeping takes the lock for a verb that starts the app's add-ons
// (not a start, which says what it swept): what a crashed previous run
// left is stopped first, as a start would.
func (s *StateDir) lockSweeping(appDir, session string, holder Holder) error {
	prev, err := s.Lock(appDir, session, holder)
	if err == nil && prev != nil {
		SweepSession(prev.Session, 2*time.Second)
	}
	return err
}

func (s *StateDir) lockStateDir(appDir, session string, holder Holder) (*Previous, error) {
	f, err := os.OpenFile(s.File("start.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		prev := readPidFile(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &AlreadyRunningError{PID: prev.PID, AppDir: appDir, Holder: prev.Holder}
		}
		return nil, fmt.Errorf("lock %s: %w", s.File("start.lock"), err)
	}
	prev := readPidFile(f)
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(fmt.Sprintf("%d %s %s\n", os.Getpid(), session, holder)), 0)
	}
	s.lock = f
	if prev.Session == "" {
		return nil, nil
	}
	return &prev, nil
}

// Unlock releases the start lock and clears the record of our session.
func (s *StateDir) Unlock() {
	if s.lock != nil {
		s.lock.Truncate(0)
		s.lock.Close()
		s.lock = nil
	}
	if s.appLock != nil {
		s.appLock.Close()
		s.appLock = nil
	}
}

func readPidFile(f *os.File) Previous {
	buf := make([]byte, 128)
	n, _ := f.ReadAt(buf, 0)
	fields := strings.Fields(string(buf[:n]))
	var p Previous
	if len(fields) >= 1 {
		p.PID, _ = strconv.Atoi(fields[0])
	}
	if len(fields) >= 2 {
		p.Session = fields[1]
	}
	if len(fields) >= 3 {
		p.Holder = Holder(fields[2])
	}
	return p
}

// holder says what holds the lock, as its holder wrote it ("" when it
// cannot be read).
func (s *StateDir) holder() Holder {
	f, err := os.Open(s.File("start.lock"))
	if err != nil {
		return ""
	}
	defer f.Close()
	return readPidFile(f).Holder
}

// NewSession returns a random id for one run of dynobox.
func NewSession() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
