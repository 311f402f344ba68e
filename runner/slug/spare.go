package slug

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// A dyno's start waits for its copy of the slug, and copying a 100 MB,
// 5,000-file slug takes seconds on a file system without reflinks (ext4).
// A long-running dynobox therefore keeps one finished copy of the current
// slug ready, a spare: CopyWarm renames it into place, which costs nothing,
// and makes the next spare in the background. A spare is a plain copy —
// no hard links into the unpacked slug, which a dyno writing a file in
// place would change for every other dyno. Spares live in the dynos
// directory, which CleanCopies empties at each start.

// sparePrefix names spares: dynos/.spare-ID, made as dynos/.spare-ID.*.tmp.
const sparePrefix = ".spare-"

func sparePath(stateDir, id string) string {
	return filepath.Join(stateDir, dynosDir, sparePrefix+id)
}

var preparing sync.Map // spare path → *sync.Mutex: one maker at a time

// makers counts the spares being made in the background, so RemoveSpares
// can wait for them: one finishing after it would leave a copy behind.
var makers struct {
	sync.Mutex
	n    int
	idle sync.Cond
}

func init() { makers.idle.L = &makers.Mutex }

// prepareInBackground makes the next spare of slug id in a goroutine.
func prepareInBackground(stateDir, id string) {
	makers.Lock()
	makers.n++
	makers.Unlock()
	go func() {
		defer func() {
			makers.Lock()
			if makers.n--; makers.n == 0 {
				makers.idle.Broadcast()
			}
			makers.Unlock()
		}()
		PrepareSpare(stateDir, id)
	}()
}

// CopyWarm is Copy for a long-running process: it takes the ready spare
// of slug id when there is one and, either way, starts making the next.
func CopyWarm(stateDir, id, name string) (dir string, remove func(), err error) {
	if dir, ok := takeSpare(stateDir, id, name); ok {
		prepareInBackground(stateDir, id)
		return dir, func() { os.RemoveAll(dir) }, nil
	}
	defer func() {
		if err == nil {
			prepareInBackground(stateDir, id)
		}
	}()
	return Copy(stateDir, id, name)
}

// Take is Copy that takes the ready spare of slug id when there is one
// and makes no other: for a process that runs one dyno of the slug and
// exits (a push's release phase while no dynobox runs).
func Take(stateDir, id, name string) (dir string, remove func(), err error) {
	if dir, ok := takeSpare(stateDir, id, name); ok {
		return dir, func() { os.RemoveAll(dir) }, nil
	}
	return Copy(stateDir, id, name)
}

// takeSpare renames the spare of slug id, waiting for one being made, to
// a new dyno directory for name.
func takeSpare(stateDir, id, name string) (string, bool) {
	if mu, ok := preparing.Load(sparePath(stateDir, id)); ok {
		mu.(*sync.Mutex).Lock() // a spare being made is ready sooner than a new copy
		mu.(*sync.Mutex).Unlock()
	}
	parent := filepath.Join(stateDir, dynosDir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", false
	}
	d, err := os.MkdirTemp(parent, strings.ReplaceAll(name, "/", "_")+"-")
	if err != nil {
		return "", false
	}
	// rename(2) replaces an empty directory, so the name stays unique
	// (os.Rename refuses an existing directory).
	if syscall.Rename(sparePath(stateDir, id), d) != nil {
		os.Remove(d)
		return "", false
	}
	return d, true
}

// PrepareSpare makes the spare of slug id unless it exists (waiting for
// one being made), and removes the spares of other slugs.
func PrepareSpare(stateDir, id string) error {
	return makeSpare(stateDir, id, func() (string, error) { return Unpacked(stateDir, id) }, true)
}

// makeSpare makes the spare of slug id from the tree source returns,
// unless it exists; with removeOthers, it removes other slugs' spares.
func makeSpare(stateDir, id string, source func() (string, error), removeOthers bool) error {
	spare := sparePath(stateDir, id)
	mu, _ := preparing.LoadOrStore(spare, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if err := os.MkdirAll(filepath.Dir(spare), 0o700); err != nil {
		return err
	}
	if removeOthers {
		others, _ := filepath.Glob(filepath.Join(stateDir, dynosDir, sparePrefix+"*"))
		for _, o := range others {
			if o != spare && !strings.HasSuffix(o, ".tmp") {
				os.RemoveAll(o)
			}
		}
	}
	if _, err := os.Stat(spare); err == nil {
		return nil
	}
	src, err := source()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Join(stateDir, dynosDir), sparePrefix+id+".*.tmp")
	if err != nil {
		return err
	}
	if err := copyTree(src, tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, spare); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return nil
}

// RemoveSpares removes the spares of every slug, once the ones being made
// are done: a stopped dynobox leaves no copy behind.
func RemoveSpares(stateDir string) {
	makers.Lock()
	for makers.n > 0 {
		makers.idle.Wait()
	}
	makers.Unlock()
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	prefix := filepath.Join(stateDir, dynosDir, sparePrefix)
	preparing.Range(func(k, mu any) bool {
		if strings.HasPrefix(k.(string), prefix) {
			mu.(*sync.Mutex).Lock()
			os.RemoveAll(k.(string))
			mu.(*sync.Mutex).Unlock()
		}
		return true
	})
	left, _ := filepath.Glob(prefix + "*")
	for _, p := range left {
		os.RemoveAll(p)
	}
}
