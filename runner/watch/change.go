package watch

import (
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Change is one debounced batch of file changes.
type Change struct {
	// Paths changed (written, created, removed, renamed, touched), relative
	// to the watched directory, slash-separated, sorted, without duplicates.
	Paths []string
	// Overflow: the kernel's event queue overflowed, so events were lost.
	// The tree was rescanned (new directories are watched) and every flag
	// below is set: treat it as "anything may have changed".
	Overflow bool

	Env      bool // a .env* file at the root, or one of Options.EnvFiles
	Procfile bool // the Procfile (Options.Procfile)
	AppJSON  bool // app.json at the root
	Code     bool // anything else: a rebuild is due
}

// classifier sorts a relative path into the Change flags.
type classifier struct {
	procfile string
	envFiles map[string]bool
}

func newClassifier(procfile string, envFiles []string) classifier {
	c := classifier{procfile: procfile, envFiles: map[string]bool{}}
	for _, e := range envFiles {
		c.envFiles[e] = true
	}
	return c
}

func (c classifier) isEnv(rel string) bool {
	return c.envFiles[rel] || (!strings.Contains(rel, "/") && strings.HasPrefix(rel, ".env"))
}

// special reports whether rel is one of the files the lead reloads rather
// than rebuilds; they are watched even when .gitignore lists them (.env
// usually is).
func (c classifier) special(rel string) bool {
	return c.isEnv(rel) || rel == c.procfile || rel == "app.json"
}

func (c classifier) add(ch *Change, rel string) {
	switch {
	case c.isEnv(rel):
		ch.Env = true
	case rel == c.procfile:
		ch.Procfile = true
	case rel == "app.json":
		ch.AppJSON = true
	default:
		ch.Code = true
	}
}

// build makes the Change for a batch.
func (c classifier) build(paths map[string]bool, overflow bool) Change {
	ch := Change{Overflow: overflow}
	for p := range paths {
		ch.Paths = append(ch.Paths, p)
		c.add(&ch, p)
	}
	slices.Sort(ch.Paths)
	if overflow {
		ch.Env, ch.Procfile, ch.AppJSON, ch.Code = true, true, true, true
	}
	return ch
}

// cleanRel turns a configured relative path into the form events use.
func cleanRel(p string) string {
	return path.Clean(filepath.ToSlash(p))
}
