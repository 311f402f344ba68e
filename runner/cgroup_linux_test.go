package runner

import (
	"os"
	"path/filepath"
	"testing"
	"time"
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
