package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/internal/proc"
)

// A process can leave its process group (setsid) and clear its environment
// (env -i), and so escape both the group signals and the session-marker
// sweep; it cannot leave its cgroup. Where cgroup v2 lets dynobox make
// cgroups (as root, or in a delegated subtree), every dyno starts inside
// one of its own (clone3's CLONE_INTO_CGROUP: no window in which a fast
// daemon is outside), below one cgroup for the session; whatever is left
// in a dyno's cgroup when its process ends is killed (cgroup.kill), and
// the watchdog's last sweep kills the session's. Elsewhere the process
// group and the session marker remain the mechanisms.

// cgroups is the session's cgroup, made by Supervisor.Start (and by a
// release phase or one-off dyno that runs before or without one).
type cgroups struct {
	dir string
}

// cgroupSeq numbers the cgroups made below any session's, so that the
// supervisor, the release phase and a one-off never pick the same name.
var cgroupSeq atomic.Int64

// ownCgroup is this process's cgroup v2 path ("0::/path").
func ownCgroup() string {
	p, _ := proc.Cgroup(os.Getpid())
	return p
}

// sessionCgroup is the session's cgroup directory, next to this process's
// own cgroup (the watchdog, dynobox's child, finds the same one).
func sessionCgroup(session string) string {
	mnt, own := proc.Cgroup2Mount(), ownCgroup()
	if mnt == "" || own == "" || session == "" {
		return ""
	}
	return filepath.Join(mnt, own, "dynobox-"+session)
}

// openCgroups makes the session's cgroup, or returns nil where cgroups
// cannot be made.
func openCgroups(session string) *cgroups {
	dir := sessionCgroup(session)
	if dir == "" {
		return nil
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil
	}
	return &cgroups{dir: dir}
}

// forDyno makes a cgroup for one run of a dyno and opens it for
// SysProcAttr.CgroupFD; the caller closes the file once the process started.
func (c *cgroups) forDyno(name string) (string, *os.File, error) {
	dir := filepath.Join(c.dir, fmt.Sprintf("%s.%d", name, cgroupSeq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", nil, err
	}
	f, err := os.Open(dir)
	if err != nil {
		os.Remove(dir)
		return "", nil, err
	}
	return dir, f, nil
}

// signalCgroup sends sig to every process in cgroup dir and below.
func signalCgroup(dir string, sig syscall.Signal) {
	if dir == "" {
		return
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				syscall.Kill(pid, sig)
			}
		}
		return nil
	})
}

// killCgroup kills every process in cgroup dir and below, waits (up to
// two seconds) for them to be gone, and removes the cgroups.
func killCgroup(dir string) {
	if dir == "" {
		return
	}
	if _, err := os.Stat(dir); err != nil {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0); err != nil {
		signalCgroup(dir, syscall.SIGKILL) // kernels before 5.14
	}
	deadline := time.Now().Add(2 * time.Second)
	for populated(dir) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		signalCgroup(dir, syscall.SIGKILL) // a fork racing the first kill
	}
	removeCgroups(dir)
}

// populated reads "populated 1" from cgroup.events: a process is in dir or below.
func populated(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	return err == nil && strings.Contains(string(data), "populated 1")
}

// removeCgroups removes dir and the cgroups below it, deepest first.
func removeCgroups(dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		syscall.Rmdir(dirs[i])
	}
}

// startChild starts cmd (through proc.StartChild, for the reaper) in a
// cgroup of its own named name below cg, where cg is not nil and the
// kernel lets it; otherwise as it is. It returns the command that runs
// (a Cmd starts once: a retry without the cgroup is a copy) and the
// cgroup's directory ("" without one). cmd.SysProcAttr must be set.
func startChild(cmd *exec.Cmd, cg *cgroups, name string) (*exec.Cmd, string, error) {
	start := func(c *exec.Cmd) error {
		return proc.StartChild(func() (int, error) {
			if err := c.Start(); err != nil {
				return 0, err
			}
			return c.Process.Pid, nil
		})
	}
	if cg == nil {
		return cmd, "", start(cmd)
	}
	dir, f, err := cg.forDyno(name)
	if err != nil {
		return cmd, "", start(cmd)
	}
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(f.Fd())
	err = start(cmd)
	f.Close()
	if err == nil {
		return cmd, dir, nil
	}
	// The kernel refused the cgroup (clone3 missing, not allowed): start
	// without, as where there are none.
	removeCgroups(dir)
	cmd = withoutCgroup(cmd)
	return cmd, "", start(cmd)
}

// withoutCgroup is a fresh copy of a command whose start into a cgroup
// failed (a Cmd starts once), without the cgroup.
func withoutCgroup(cmd *exec.Cmd) *exec.Cmd {
	c := exec.Command(cmd.Path, cmd.Args[1:]...)
	c.Dir, c.Env, c.Stdin, c.Stdout, c.Stderr = cmd.Dir, cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr
	attr := *cmd.SysProcAttr
	attr.UseCgroupFD, attr.CgroupFD = false, 0
	c.SysProcAttr = &attr
	return c
}
