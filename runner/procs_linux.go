package runner

import (
	"bytes"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// SessionVar marks every process a dynobox session starts. Environment is
// inherited by children, grandchildren and daemons alike, so after a crash
// (kill -9 of dynobox) the watchdog or the next start finds every survivor
// by reading /proc/PID/environ — even ones that left the process group.
const SessionVar = "DYNOBOX_SESSION"

// groupAttr puts a child in its own process group, so a signal to -pgid
// reaches sh -c wrappers and background jobs too, and kills it if dynobox
// dies (Pdeathsig covers the direct child; the watchdog covers the rest).
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to process group pgid; a group that is gone is not an error.
func signalGroup(pgid int, sig syscall.Signal) {
	if pgid > 1 {
		_ = syscall.Kill(-pgid, sig)
	}
}

// groupAlive reports whether any process (not counting zombies we have not
// reaped yet) remains in group pgid.
func groupAlive(pgid int) bool {
	if pgid <= 1 {
		return false
	}
	if err := syscall.Kill(-pgid, 0); err == syscall.ESRCH {
		return false
	}
	// kill(2) also succeeds for zombies; look closer.
	for _, p := range listProcs() {
		if p.pgid == pgid && p.state != 'Z' {
			return true
		}
	}
	return false
}

type procInfo struct {
	pid, ppid, pgid int
	state           byte
}

// listProcs reads /proc/*/stat. Processes vanishing meanwhile are skipped.
func listProcs() []procInfo {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name is in parentheses and may contain spaces or ')'.
		end := bytes.LastIndexByte(data, ')')
		if end < 0 || end+2 >= len(data) {
			continue
		}
		f := strings.Fields(string(data[end+2:]))
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgid, _ := strconv.Atoi(f[2])
		out = append(out, procInfo{pid: pid, ppid: ppid, pgid: pgid, state: f[0][0]})
	}
	return out
}

// sessionPIDs lists live processes whose environment carries SessionVar=session.
func sessionPIDs(session string) []int {
	if session == "" {
		return nil
	}
	want := []byte(SessionVar + "=" + session + "\x00")
	self := os.Getpid()
	var pids []int
	for _, p := range listProcs() {
		if p.pid == self || p.state == 'Z' {
			continue
		}
		env, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/environ")
		if err != nil {
			continue
		}
		if bytes.HasPrefix(env, want) || bytes.Contains(env, append([]byte{0}, want...)) {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// SweepSession terminates every process still marked with session: SIGTERM,
// up to grace for them to go, then SIGKILL. It returns how many it found.
func SweepSession(session string, grace time.Duration) int {
	pids := sessionPIDs(session)
	if len(pids) == 0 {
		return 0
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if len(sessionPIDs(session)) == 0 {
			return len(pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Kill until none is left: a process may fork while we look.
	for i := 0; i < 50; i++ {
		left := sessionPIDs(session)
		if len(left) == 0 {
			break
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return len(pids)
}

// reaper makes dynobox a child subreaper, so orphaned grandchildren of
// dynos stay our descendants instead of escaping to init, and reaps those
// orphans when they exit. It is process-wide: there is one set of children.
// Children started through startChild are left to their exec.Cmd.Wait.
var reaper struct {
	once    sync.Once
	mu      sync.Mutex
	managed map[int]bool
}

// startChild runs start (which forks a child and returns its pid) while
// orphan reaping is held off, and marks the pid as waited for by its owner.
// Call childDone once that Wait has returned.
func startChild(start func() (int, error)) error {
	reaper.once.Do(func() {
		reaper.managed = map[int]bool{}
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		go reapLoop()
	})
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	pid, err := start()
	if err == nil {
		reaper.managed[pid] = true
	}
	return err
}

func childDone(pid int) {
	reaper.mu.Lock()
	delete(reaper.managed, pid)
	reaper.mu.Unlock()
}

func reapLoop() {
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	// The tick is a safety net: SIGCHLDs coalesce, and one may race a start.
	tick := time.NewTicker(5 * time.Second)
	for {
		select {
		case <-sigchld:
		case <-tick.C:
		}
		reapOrphans()
	}
}

// reapOrphans waits for exited children that no exec.Cmd owns.
func reapOrphans() {
	self := os.Getpid()
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	for _, p := range listChildren(self) {
		if reaper.managed[p.pid] || p.state != 'Z' {
			continue
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(p.pid, &ws, unix.WNOHANG, nil)
	}
}

// listChildren returns the children of pid.
func listChildren(pid int) []procInfo {
	var out []procInfo
	for _, p := range listProcs() {
		if p.ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// pipeSize is the kernel buffer of a dyno's output pipe: a larger one lets
// a chatty dyno write on while dynobox formats, with fewer context switches
// (Linux defaults to 64 KiB; 1 MiB is the unprivileged maximum).
const pipeSize = 1 << 20

// outputPipe is the pipe a dyno's stdout and stderr both write to, so the
// order between them is kept.
func outputPipe() (r, w *os.File, err error) {
	r, w, err = os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	_, _ = unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, pipeSize) // best effort
	return r, w, nil
}
