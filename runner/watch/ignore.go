package watch

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultIgnoreDirs are directories never watched, as gitignore patterns:
// version control, dependency folders (installed by the build, not edited by
// hand) and folders a build or a running dyno writes to, which would
// otherwise start a build loop. Names without a leading "/" match at any
// depth; bin, tmp, log and vendor only at the root, since internal/log is a
// common Go package. Keep it short: the rest belongs in .gitignore or
// Options.Ignore.
var DefaultIgnoreDirs = []string{
	".git/", ".hg/", ".svn/", // version control
	"node_modules/", ".venv/", "venv/", "__pycache__/", // Node.js, Python
	"/vendor/", "/.bundle/", // Go and Ruby vendoring, Bundler config
	"/bin/", "/tmp/", "/log/", // Go binaries; Rails' and air's scratch and logs
}

// DefaultIgnoreFiles are file patterns of editor scratch files (vim writes
// its swap file while you type, long before a save) and of files a running
// app writes next to its code — logs, pid files, SQLite databases — which
// would otherwise redeploy the app on every request.
var DefaultIgnoreFiles = []string{
	"*.swp", "*.swx", "*~", ".#*", "#*#", "4913", ".DS_Store", // editors
	"*.log", "*.pid", // logs and pid files
	"*.sqlite", "*.sqlite3", "*.db", "*-journal", "*-wal", "*-shm", // SQLite
}

// pattern is one gitignore line, compiled.
type pattern struct {
	segs    []string // slash-separated glob segments; "**" matches any number of segments
	negate  bool     // "!pat": re-include
	dirOnly bool     // "pat/": matches directories only
}

// parseIgnore compiles gitignore lines. Syntax (gitignore(5)): blank lines
// and "#" comments are skipped; "!" negates; a trailing "/" matches only
// directories; a pattern with a "/" at the start or in the middle is
// anchored to the .gitignore's directory, otherwise it matches a name at any
// depth; "*", "?" and "[…]" never match "/", "**" matches across directories;
// a backslash escapes the next character.
func parseIgnore(data []byte) []pattern {
	var out []pattern
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if p, ok := parseLine(sc.Text()); ok {
			out = append(out, p)
		}
	}
	return out
}

func parseLine(line string) (pattern, bool) {
	line = strings.TrimSuffix(line, "\r")
	line = trimTrailingSpace(line)
	if line == "" || line[0] == '#' {
		return pattern{}, false
	}
	var p pattern
	if line[0] == '!' {
		p.negate = true
		line = line[1:]
	} else if strings.HasPrefix(line, `\!`) || strings.HasPrefix(line, `\#`) {
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		p.dirOnly = true
		line = strings.TrimRight(line, "/")
	}
	if line == "" {
		return pattern{}, false
	}
	if strings.HasPrefix(line, "/") {
		line = strings.TrimLeft(line, "/")
	} else if !strings.Contains(line, "/") {
		line = "**/" + line // unanchored: a name at any depth
	}
	for _, s := range strings.Split(line, "/") {
		if s == "" {
			continue
		}
		// fnmatch's "[!x]" is path.Match's "[^x]".
		p.segs = append(p.segs, strings.ReplaceAll(s, "[!", "[^"))
	}
	return p, len(p.segs) > 0
}

// trimTrailingSpace drops trailing spaces unless escaped with a backslash.
func trimTrailingSpace(s string) string {
	for strings.HasSuffix(s, " ") && !strings.HasSuffix(s, `\ `) {
		s = s[:len(s)-1]
	}
	return s
}

// match reports whether rel (slash-separated, relative to the rules' base)
// matches p.
func (p pattern) match(rel string, isDir bool) bool {
	if p.dirOnly && !isDir {
		return false
	}
	return matchSegs(p.segs, strings.Split(rel, "/"))
}

func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			if len(rest) == 0 {
				return len(name) > 0 // "a/**" matches everything inside a, not a itself
			}
			for i := 0; i <= len(name); i++ {
				if matchSegs(rest, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], name[0]); err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// matcher decides what is ignored: built-in names, the state directory,
// Options.Ignore and every .gitignore in the tree (root first, deeper files
// override shallower ones, last match wins, as in git).
type matcher struct {
	root       string
	always     map[string]bool       // exact relative paths: the state directory
	keep       func(rel string) bool // files watched even when a pattern ignores them
	base       []pattern             // the defaults, then Options.Ignore; root-relative
	gitignores map[string][]pattern  // directory (relative, "" for the root) → its .gitignore
}

func newMatcher(root string, always []string, extra []string, keep func(string) bool) *matcher {
	m := &matcher{root: root, always: map[string]bool{}, keep: keep, gitignores: map[string][]pattern{}}
	for _, a := range always {
		m.always[a] = true
	}
	lines := slices.Concat(DefaultIgnoreDirs, DefaultIgnoreFiles, extra)
	m.base = parseIgnore([]byte(strings.Join(lines, "\n")))
	return m
}

// loadGitignore (re)reads the .gitignore in directory dir (relative, "" for
// the root); a missing file clears its patterns.
func (m *matcher) loadGitignore(dir string) {
	data, err := os.ReadFile(filepath.Join(m.root, filepath.FromSlash(dir), ".gitignore"))
	if err != nil {
		delete(m.gitignores, dir)
		return
	}
	m.gitignores[dir] = parseIgnore(data)
}

// ignored reports whether rel, or any directory above it, is ignored.
func (m *matcher) ignored(rel string, isDir bool) bool {
	if rel == "" || rel == "." {
		return false
	}
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		if m.ignoredSelf(strings.Join(parts[:i], "/"), true) {
			return true
		}
	}
	return m.ignoredSelf(rel, isDir)
}

// ignoredSelf checks rel alone, its parents assumed not ignored.
func (m *matcher) ignoredSelf(rel string, isDir bool) bool {
	if m.always[rel] {
		return true
	}
	ign := false
	apply := func(base string, pats []pattern) {
		sub := rel
		if base != "" {
			if !strings.HasPrefix(rel, base+"/") {
				return
			}
			sub = rel[len(base)+1:]
		}
		for _, p := range pats {
			if p.match(sub, isDir) {
				ign = !p.negate
			}
		}
	}
	apply("", m.base)
	// Shallower .gitignore files first, so deeper ones win.
	dirs := strings.Split(rel, "/")
	for i := 0; i < len(dirs); i++ {
		base := strings.Join(dirs[:i], "/")
		if pats, ok := m.gitignores[base]; ok {
			apply(base, pats)
		}
	}
	if ign && !isDir && m.keep != nil && m.keep(rel) {
		return false // .env, Procfile, app.json are watched even when gitignored
	}
	return ign
}
