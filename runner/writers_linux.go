package runner

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dynobox/dynobox/internal/proc"
	"github.com/dynobox/dynobox/runner/watch"
)

// Writers are a session's processes for the watcher (watch.Writers):
// its dynos, one-off release phases and builds, whose writes into the app
// directory are never a reason to deploy. A process is the session's when
// it is in the session's cgroup (which nothing started in it can leave)
// or carries the session marker in its environment (builds, and dynos
// where no cgroup could be made).
func Writers(session, appDir string) watch.Writers {
	w := &writers{marker: SessionVar + "=" + session, session: session, appDir: appDir}
	if dir := sessionCgroup(session); dir != "" {
		w.cgDir = dir
		if rel, err := filepath.Rel(proc.Cgroup2Mount(), dir); err == nil {
			w.cgPath = "/" + filepath.ToSlash(rel)
		}
	}
	if abs, err := filepath.Abs(appDir); err == nil {
		w.appDir = abs
	}
	return w
}

type writers struct {
	session string
	marker  string // SessionVar=session
	appDir  string
	cgDir   string // the session's cgroup directory, "" without cgroup v2
	cgPath  string // the same, as /proc/PID/cgroup names it
}

// Owns: the process is in the session's cgroup or carries its marker.
func (w *writers) Owns(pid int) (own, known bool) {
	cg, ok := proc.Cgroup(pid)
	if !ok {
		return false, false // gone
	}
	if w.cgPath != "" && (cg == w.cgPath || strings.HasPrefix(cg, w.cgPath+"/")) {
		return true, true
	}
	env, ok := proc.Environ(pid)
	if !ok {
		return false, proc.Exists(pid)
	}
	if len(env) == 0 {
		// A zombie has no environment left: we cannot tell any more.
		if st, ok := proc.Stat(pid); ok && st.State == 'Z' {
			return false, false
		}
	}
	return proc.HasEnv(env, w.marker), true
}

// Writing lists the files in the app directory that the session's
// processes hold open for writing.
func (w *writers) Writing() []string {
	pids := map[int]bool{}
	if w.cgDir != "" {
		filepath.WalkDir(w.cgDir, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			data, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					pids[pid] = true
				}
			}
			return nil
		})
	}
	for _, pid := range sessionPIDs(w.session) {
		pids[pid] = true
	}
	var out []string
	for pid := range pids {
		out = append(out, proc.OpenForWriting(pid, w.appDir+"/")...)
	}
	return out
}
