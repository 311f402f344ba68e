package watch

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// markedWriters are the processes with DYNOTEST=<marker> in their
// environment, as dynobox's are those with its session marker.
type markedWriters struct{ marker, root string }

func (m markedWriters) Owns(pid int) (bool, bool) {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil || len(env) == 0 { // gone, or a zombie
		return false, false
	}
	return bytes.Contains(env, []byte("DYNOTEST="+m.marker+"\x00")), true
}

func (m markedWriters) Writing() []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if own, _ := m.Owns(mustAtoi(e.Name())); !own {
			continue
		}
		dir := "/proc/" + e.Name()
		fds, _ := os.ReadDir(dir + "/fd")
		for _, fd := range fds {
			target, err := os.Readlink(dir + "/fd/" + fd.Name())
			if err != nil || !strings.HasPrefix(target, m.root+"/") {
				continue
			}
			info, _ := os.ReadFile(dir + "/fdinfo/" + fd.Name())
			for _, line := range strings.Split(string(info), "\n") {
				if v, ok := strings.CutPrefix(line, "flags:"); ok {
					if f, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64); err == nil && f&3 != 0 {
						out = append(out, target)
					}
				}
			}
		}
	}
	return out
}

func mustAtoi(s string) int { n, _ := strconv.Atoi(s); return n }

// dyno runs a shell script in root as a process of the writers marked
// marker, until the test ends.
func dyno(t *testing.T, root, marker, script string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DYNOTEST="+marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
}

// countFiles waits until dir holds at least n files.
func waitFiles(t *testing.T, dir string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, _ := os.ReadDir(dir)
		if len(entries) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d files after 30s, want %d", dir, len(entries), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// noticesOf collects the watcher's notices.
type noticesOf struct {
	mu  sync.Mutex
	all []string
}

func (n *noticesOf) add(s string) { n.mu.Lock(); n.all = append(n.all, s); n.mu.Unlock() }
func (n *noticesOf) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.all, "\n")
}

// With privilege, fanotify names the writer: a worker rewriting a file
// every 200 ms (through a short-lived child: date > f) and a server
// writing one new upload per "request" (the shell itself) never start a
// deploy, whenever they write; a save of yours meanwhile is reported
// alone.
func TestDynoWritesAreNoChange(t *testing.T) {
	if !privileged() {
		if os.Getenv("CI") == "true" {
			t.Fatal("fanotify needs CAP_SYS_ADMIN; CI runs as root")
		}
		t.Skip("fanotify names writers only with CAP_SYS_ADMIN")
	}
	root := mkTree(t, "a.txt", "o/.keep", "files/.keep")
	marker := fmt.Sprint(time.Now().UnixNano())
	var notes noticesOf
	h := start(t, root, Options{
		Writers: markedWriters{marker, root},
		Notice:  notes.add,
		Settle:  -1,
		Tracked: func(string, []string) map[string]bool { return nil }, // nothing is in git
	})
	dyno(t, root, marker, `while :; do date +%s%N > o/worker.txt; sleep 0.2; done`)
	dyno(t, root, marker, `i=0; while :; do i=$((i+1)); echo "upload $i" > files/$i.bin; sleep 0.05; done`)
	waitFiles(t, filepath.Join(root, "files"), 40)
	h.write("a.txt", "yours")
	if c := h.next(); !slices.Equal(c.Paths, []string{"a.txt"}) {
		t.Fatalf("got %v, want only the save of a.txt; notices:\n%s", c.Paths, notes.String())
	}
	// Your save of a file the worker keeps writing is yours all the same.
	h.write("o/worker.txt", "yours too")
	if c := h.next(); !slices.Equal(c.Paths, []string{"o/worker.txt"}) {
		t.Fatalf("got %v, want only the save of o/worker.txt; notices:\n%s", c.Paths, notes.String())
	}
	waitFiles(t, filepath.Join(root, "files"), 60)
	h.quiet()
	if !strings.Contains(notes.String(), "Not deploying for what the dynos and builds wrote") {
		t.Fatalf("no notice named the dynos' writes:\n%s", notes.String())
	}
}

// Without privilege, what dynos hold open for writing (a log without
// .log, a database) is theirs, and what lies in RuntimeDirs is nobody's
// code, unless git tracks it or it is source code.
func TestDynoWritesWithoutPrivilege(t *testing.T) {
	root := mkTree(t, "a.txt", "public/uploads/.keep", "storage/tracked.txt")
	// No window after a callback: a new file right after one is yours.
	marker := fmt.Sprint(time.Now().UnixNano())
	var notes noticesOf
	h := start(t, root, Options{
		Writers:    markedWriters{marker, root},
		Notice:     notes.add,
		noFanotify: true,
		Settle:     -1,
		Tracked: func(_ string, paths []string) map[string]bool {
			out := map[string]bool{}
			for _, p := range paths {
				out[p] = p == "storage/tracked.txt" || strings.HasPrefix(p, "sentinel-")
			}
			return out
		},
	})
	dyno(t, root, marker, `exec 3>>visits; while :; do date >&3; sleep 0.05; done`)
	dyno(t, root, marker, `i=0; while :; do i=$((i+1)); echo "upload $i" > public/uploads/$i.png; sleep 0.05; done`)
	waitFiles(t, filepath.Join(root, "public/uploads"), 40)
	h.write("a.txt", "yours")
	if c := h.next(); !slices.Equal(c.Paths, []string{"a.txt"}) {
		t.Fatalf("got %v, want only the save of a.txt; notices:\n%s", c.Paths, notes.String())
	}
	for _, p := range []string{"storage/tracked.txt", "storage/db.go"} {
		h.write(p, "yours")
		if c := h.next(); !slices.Equal(c.Paths, []string{p}) {
			t.Fatalf("got %v, want only the save of %s", c.Paths, p)
		}
	}
	waitFiles(t, filepath.Join(root, "public/uploads"), 60)
	h.quiet()
	if !strings.Contains(notes.String(), "Not deploying for what the dynos and builds wrote") {
		t.Fatalf("no notice named the dynos' writes:\n%s", notes.String())
	}
}
