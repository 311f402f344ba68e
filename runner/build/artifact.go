package build

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Layout under the state directory:
//
//	builds/last-id          the last build number handed out
//	builds/bN/bin/NAME      a kept Go build's binaries
//	builds/.bN.partial/     a Go build in progress (removed on failure)
const buildsDir = "builds"

// ErrNoArtifact: Restore found nothing kept for that build (not a Go
// build, failed, or pruned).
var ErrNoArtifact = errors.New("no kept artifact")

var idMu sync.Mutex

// nextID hands out b1, b2, … per state directory, across restarts.
func nextID(stateDir string) (string, error) {
	idMu.Lock()
	defer idMu.Unlock()
	dir := filepath.Join(stateDir, buildsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	// A push's build runs in the receive hook's process, beside a running
	// dynobox's: a flock on the directory (no file added) keeps their
	// numbers apart.
	lock, err := os.Open(dir)
	if err != nil {
		return "", err
	}
	defer lock.Close() // releases the flock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	file := filepath.Join(dir, "last-id")
	n := 0
	if data, err := os.ReadFile(file); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(data)))
	}
	for _, k := range keptBuilds(stateDir) { // a lost counter must not reuse a kept id
		n = max(n, k)
	}
	n++
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(n)+"\n"), 0o600); err != nil {
		return "", err
	}
	return "b" + strconv.Itoa(n), os.Rename(tmp, file)
}

// keptBuilds lists the numbers of kept builds, oldest first.
func keptBuilds(stateDir string) []int {
	entries, _ := os.ReadDir(filepath.Join(stateDir, buildsDir))
	var ns []int
	for _, e := range entries {
		if n, ok := buildNumber(e.Name()); ok && e.IsDir() {
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	return ns
}

func buildNumber(id string) (int, bool) {
	s, ok := strings.CutPrefix(id, "b")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0 && "b"+strconv.Itoa(n) == id
}

// newStage makes the directory a Go build writes its binaries to, and
// clears what a crashed build left behind.
func (b *builder) newStage() (string, error) {
	dir := filepath.Join(b.stateDir, buildsDir)
	old, _ := filepath.Glob(filepath.Join(dir, ".b*.partial"))
	for _, o := range old {
		os.RemoveAll(o)
	}
	b.stage = filepath.Join(dir, "."+b.id+".partial")
	return filepath.Join(b.stage, "bin"), os.MkdirAll(filepath.Join(b.stage, "bin"), 0o700)
}

// keep turns the stage into the kept build, installs its binaries into
// bin/, and prunes old builds.
func (b *builder) keep() error {
	kept := filepath.Join(b.stateDir, buildsDir, b.id)
	if err := os.Rename(b.stage, kept); err != nil {
		return fmt.Errorf("keep build: %w", err)
	}
	b.stage = ""
	if err := install(kept, b.appDir); err != nil {
		return err
	}
	return prune(b.stateDir, b.keepN)
}

// discard removes a failed build's stage.
func (b *builder) discard() {
	if b.stage != "" {
		os.RemoveAll(b.stage)
	}
}

// prune removes all but the newest keep builds.
func prune(stateDir string, keep int) error {
	ns := keptBuilds(stateDir)
	for len(ns) > keep {
		if err := os.RemoveAll(filepath.Join(stateDir, buildsDir, "b"+strconv.Itoa(ns[0]))); err != nil {
			return fmt.Errorf("prune builds: %w", err)
		}
		ns = ns[1:]
	}
	return nil
}

// Restore puts the binaries of kept build id back into appDir/bin, for a
// rollback. It returns an error wrapping ErrNoArtifact when that build kept
// none.
func Restore(stateDir, appDir, id string) error {
	if _, ok := buildNumber(id); !ok {
		return fmt.Errorf("restore build %q: not a build id", id)
	}
	kept := filepath.Join(stateDir, buildsDir, id)
	if _, err := os.Stat(filepath.Join(kept, "bin")); err != nil {
		return fmt.Errorf("restore build %s: %w", id, ErrNoArtifact)
	}
	if err := install(kept, appDir); err != nil {
		return fmt.Errorf("restore build %s: %w", id, err)
	}
	return nil
}

// install copies a kept build's binaries into appDir/bin, each through a
// temporary file and a rename: a running dyno keeps its old binary (no
// "text file busy"), and a new dyno never sees half a file. Copies rather
// than hard links, so cp over bin/web cannot change a kept build.
func install(kept, appDir string) error {
	src := filepath.Join(kept, "bin")
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("install binaries: %w", err)
	}
	dst := filepath.Join(appDir, "bin")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("install binaries: %w", err)
	}
	for _, e := range entries {
		if err := copyExec(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return fmt.Errorf("install bin/%s: %w", e.Name(), err)
		}
	}
	return nil
}

func copyExec(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".dynobox-tmp")
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
