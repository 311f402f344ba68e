package runner

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// A session's processes are its writers: a dyno (in its cgroup where one
// can be made, by its marker otherwise); the files they hold open for
// writing in the app directory are listed, those open for reading not.
func TestWritersAreTheSessionsProcesses(t *testing.T) {
	t.Parallel()
	app := t.TempDir()
	if err := os.WriteFile(filepath.Join(app, "read.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, noCgroups := range []bool{false, true} {
		pids := t.TempDir()
		cmd := `exec 3>>visits 4<read.txt; setsid env -i sh -c "echo \$\$ > $PIDS/daemon; exec sleep 1000" & echo $$ > $PIDS/dyno; exec sleep 1000`
		h := startSupervisor(t, []Slot{slot("worker", 1, freeTestPort(t), cmd)}, func(c *Config) {
			c.AppDir = app
			c.Env = append(os.Environ(), "PIDS="+pids)
			c.NoCgroups = noCgroups
		})
		dyno := readPIDs(t, filepath.Join(pids, "dyno"), 1)[0]
		daemon := readPIDs(t, filepath.Join(pids, "daemon"), 1)[0]
		t.Cleanup(func() {
			if alive(daemon) {
				syscall.Kill(daemon, syscall.SIGKILL) // without cgroups it outlives the dyno
			}
		})
		w := Writers(h.sup.cfg.Session, app)
		if own, known := w.Owns(dyno); !own || !known {
			t.Errorf("cgroups %v: the dyno's process is not the session's (%v, %v)", !noCgroups, own, known)
		}
		if own, known := w.Owns(os.Getpid()); own || !known {
			t.Errorf("cgroups %v: the test process is the session's (%v, %v)", !noCgroups, own, known)
		}
		// A daemon that cleared its environment is told only by its cgroup.
		if own, _ := w.Owns(daemon); own != (h.sup.cg != nil) {
			t.Errorf("cgroups %v: the daemon's process: own=%v", h.sup.cg != nil, own)
		}
		waitUntil(t, func() bool { return slices.Contains(w.Writing(), filepath.Join(app, "visits")) })
		if got := w.Writing(); slices.Contains(got, filepath.Join(app, "read.txt")) {
			t.Errorf("a file open for reading is listed as written: %v", got)
		}
		h.sup.Stop()
	}
}
