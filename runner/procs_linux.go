package runner

import (
	"os"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/internal/proc"
	"golang.org/x/sys/unix"
)

// SessionVar marks every process a dynobox session starts. Environment is
// inherited by children, grandchildren and daemons alike, so after a crash
// (kill -9 of dynobox) the watchdog or the next start finds every survivor
// by reading /proc/PID/environ — even ones that left the process group.
const SessionVar = "DYNOBOX_SESSION"

// sessionPIDs lists live processes whose environment carries SessionVar=session.
func sessionPIDs(session string) []int {
	if session == "" {
		return nil
	}
	return proc.WithEnv(SessionVar + "=" + session)
}

// SweepSession terminates every process still marked with session: SIGTERM,
// up to grace for them to go, then SIGKILL; then whatever is left in the
// session's cgroup (daemons that cleared their environment) is killed.
// It returns how many marked processes it found.
func SweepSession(session string, grace time.Duration) int {
	defer killCgroup(sessionCgroup(session))
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
