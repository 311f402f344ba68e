package runner

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/logbus/logbustest"
)

// cgroupsOrSkip fails under CI=true, and skips elsewhere, where this
// machine cannot make cgroups (no cgroup v2, not root, not delegated).
func cgroupsOrSkip(t *testing.T) {
	t.Helper()
	cg := openCgroups(NewSession())
	if cg == nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must run this test: no cgroup v2 hierarchy dynobox may make cgroups in")
		}
		t.Skip("no cgroup v2 hierarchy dynobox may make cgroups in")
	}
	removeCgroups(cg.dir)
}

// A daemon that leaves the process group and clears its environment
// (setsid env -i) is stopped with its dyno: on a restart and on Stop.
func TestDaemonThatShedsGroupAndEnvIsStopped(t *testing.T) {
	t.Parallel()
	cgroupsOrSkip(t)
	// The outer shell fills in PIDS and DYNO: the daemon has no env at all.
	cmd := `setsid env -i sh -c "echo \$\$ > $PIDS/$DYNO.\$(date +%s%N); exec sleep 1000" & exec sleep 1000`
	pids := t.TempDir()
	h := startSupervisor(t, []Slot{slot("worker", 1, freeTestPort(t), cmd)}, func(c *Config) {
		c.Env = append(os.Environ(), "PIDS="+pids)
	})
	daemons := func(n int) []int {
		t.Helper()
		var all []int
		waitUntil(t, func() bool {
			all = all[:0]
			entries, _ := os.ReadDir(pids)
			for _, e := range entries {
				all = append(all, readPIDs(t, filepath.Join(pids, e.Name()), 1)...)
			}
			return len(all) >= n
		})
		return all
	}
	first := daemons(1)
	if _, err := h.sup.Restart(Select{Type: "worker"}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, first)
	both := daemons(2)
	h.sup.Stop()
	waitGone(t, both)
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// daemonCommand starts a daemon that leaves the process group and clears
// its environment, writing its pid to file; the test kills it if it is
// left over (a failed test must not leave it running).
func daemonCommand(t *testing.T) (cmd, file string) {
	file = filepath.Join(t.TempDir(), "daemon.pid")
	t.Cleanup(func() {
		data, _ := os.ReadFile(file)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	// The outer shell fills in the path: the daemon has no env at all.
	return `setsid env -i sh -c "echo \$\$ > ` + file + `; exec sleep 1000" & while [ ! -s ` + file + ` ]; do sleep 0.01; done; echo started`, file
}

// The release phase runs in a cgroup like a dyno: a daemon it starts does
// not outlive it.
func TestReleasePhaseDaemonIsStopped(t *testing.T) {
	t.Parallel()
	cgroupsOrSkip(t)
	cmd, file := daemonCommand(t)
	bus := logbus.New(logbustest.NewMemory(0))
	if err := ReleasePhase(context.Background(), t.TempDir(), cmd, os.Environ(), NewSession(), bus); err != nil {
		t.Fatal(err)
	}
	waitGone(t, readPIDs(t, file, 1))
}

// So does a one-off dyno (dynobox run).
func TestOneOffDaemonIsStopped(t *testing.T) {
	t.Parallel()
	cgroupsOrSkip(t)
	cmd, file := daemonCommand(t)
	// A file, as the terminal is: a pipe would keep Wait waiting for the
	// daemon, which holds it.
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	o := &OneOff{AppDir: t.TempDir(), Env: os.Environ(), Args: []string{cmd}, Session: NewSession(), Stdout: out, Stderr: out}
	if err := o.Run(context.Background()); err != nil {
		data, _ := os.ReadFile(out.Name())
		t.Fatalf("run: %v\n%s", err, data)
	}
	waitGone(t, readPIDs(t, file, 1))
}
