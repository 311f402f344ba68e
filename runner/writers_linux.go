package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dynobox/dynobox/runner/watch"
)

// Writers are a session's processes for the watcher (watch.Writers):
// its dynos, one-off release phases and builds, whose writes into the app
// directory are never a reason to deploy. A process is the session's when
// it is in the session's cgroup (which nothing started in it can leave)
// or carries the session marker in its environment (builds, and dynos
// where no cgroup could be made).
func Writers(session, appDir string) watch.Writers {
	w := &writers{marker: []byte(SessionVar + "=" + session + "\x00"), session: session, appDir: appDir}
	if dir := sessionCgroup(session); dir != "" {
		w.cgDir = dir
		if rel, err := filepath.Rel(cgroup2Mount(), dir); err == nil {
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
	marker  []byte
	appDir  string
	cgDir   string // the session's cgroup directory, "" without cgroup v2
	cgPath  string // the same, as /proc/PID/cgroup names it
}

// Owns: the process is in the session's cgroup or carries its marker.
func (w *writers) Owns(pid int) (own, known bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	cg, err := os.ReadFile(dir + "/cgroup")
	if err != nil {
		return false, false // gone
	}
	if w.cgPath != "" {
		for _, line := range strings.Split(string(cg), "\n") {
			if p, ok := strings.CutPrefix(line, "0::"); ok && (p == w.cgPath || strings.HasPrefix(p, w.cgPath+"/")) {
				return true, true
			}
		}
	}
	env, err := os.ReadFile(dir + "/environ")
	if err != nil {
		_, gone := os.Stat(dir)
		return false, gone == nil
	}
	if len(env) == 0 {
		// A zombie has no environment left: we cannot tell any more.
		if st, err := os.ReadFile(dir + "/stat"); err == nil && bytes.Contains(st, []byte(") Z ")) {
			return false, false
		}
	}
	return hasMarker(env, w.marker), true
}

func hasMarker(env, marker []byte) bool {
	return bytes.HasPrefix(env, marker) || bytes.Contains(env, append([]byte{0}, marker...))
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
	prefix := w.appDir + "/"
	for pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid)
		fds, err := os.ReadDir(dir + "/fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(dir + "/fd/" + fd.Name())
			if err != nil || !strings.HasPrefix(target, prefix) {
				continue
			}
			if openForWriting(dir + "/fdinfo/" + fd.Name()) {
				out = append(out, target)
			}
		}
	}
	return out
}

// openForWriting reads the access mode from an fdinfo file ("flags:
// 0100001", octal): write-only or read-write.
func openForWriting(fdinfo string) bool {
	data, err := os.ReadFile(fdinfo)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			return err == nil && flags&3 != 0 // O_ACCMODE: O_WRONLY 1, O_RDWR 2
		}
	}
	return false
}
