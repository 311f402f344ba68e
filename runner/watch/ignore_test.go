package watch

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pat   string
		path  string
		isDir bool
		want  bool
	}{
		{"*.log", "a.log", false, true},
		{"*.log", "deep/er/a.log", false, true},
		{"*.log", "a.logx", false, false},
		{"/todo.txt", "todo.txt", false, true},
		{"/todo.txt", "sub/todo.txt", false, false},
		{"build/", "build", true, true},
		{"build/", "build", false, false},
		{"build/", "x/build", true, true},
		{"doc/frotz", "doc/frotz", false, true},
		{"doc/frotz", "a/doc/frotz", false, false}, // a middle slash anchors
		{"**/foo", "foo", false, true},
		{"**/foo", "a/b/foo", false, true},
		{"**/foo/bar", "x/foo/bar", false, true},
		{"abc/**", "abc/x/y", false, true},
		{"abc/**", "abc", true, false},
		{"a/**/b", "a/b", false, true},
		{"a/**/b", "a/x/y/b", false, true},
		{"a/**/b", "a/x/y/c", false, false},
		{"?.go", "a.go", false, true},
		{"?.go", "ab.go", false, false},
		{"*.go", "a/b.go", false, true}, // no slash: basename at any depth
		{"a/*.go", "a/b/c.go", false, false},
		{"[abc].txt", "b.txt", false, true},
		{"[!abc].txt", "b.txt", false, false},
		{"[!abc].txt", "d.txt", false, true},
		{`\#x`, "#x", false, true},
		{"trailing   ", "trailing", false, true},
	}
	for _, tt := range tests {
		p, ok := parseLine(tt.pat)
		if !ok {
			t.Fatalf("parseLine(%q) rejected", tt.pat)
		}
		if got := p.match(tt.path, tt.isDir); got != tt.want {
			t.Errorf("%q matches %q (dir %v) = %v, want %v", tt.pat, tt.path, tt.isDir, got, tt.want)
		}
	}
	for _, skip := range []string{"", "   ", "# comment", "/", "!"} {
		if _, ok := parseLine(skip); ok {
			t.Errorf("parseLine(%q) should be skipped", skip)
		}
	}
}

func TestMatcher(t *testing.T) {
	root := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(".gitignore", "*.log\n!keep.log\n/dist/\nsecret/\n.env\n")
	write("sub/.gitignore", "*.tmp\n!important.log\n")
	keep := func(rel string) bool { return rel == ".env" }
	m := newMatcher(root, []string{".dynobox"}, []string{"generated/"}, keep)
	m.loadGitignore("")
	m.loadGitignore("sub")

	tests := []struct {
		path  string
		isDir bool
		want  bool
	}{
		{"main.go", false, false},
		{"a.log", false, true},
		{"keep.log", false, false}, // negation
		{"dist", true, true},
		{"dist/app.js", false, true}, // inside an ignored directory
		{"x/dist", true, false},      // anchored to the root
		{"secret/key", false, true},
		{"sub/secret/key", false, true},
		{"sub/a.tmp", false, true},
		{"a.tmp", false, false},             // sub's .gitignore applies below sub only
		{"sub/important.log", false, false}, // the deeper file wins
		{"sub/other.log", false, true},
		{".dynobox", true, true},
		{".dynobox/state.db", false, true},
		{"generated/x.go", false, true}, // Options.Ignore
		{"node_modules/left-pad/index.js", false, true},
		{"web/node_modules", true, true},
		{".git/HEAD", false, true},
		{"bin/web", false, true},
		{"cmd/bin/x.go", false, false}, // /bin/ is the root's only
		{"internal/log/log.go", false, false},
		{"log/development.log", false, true},
		{"vendor/modules.txt", false, true},
		{"pkg/__pycache__/x.pyc", false, true},
		{".main.go.swp", false, true},
		{"main.go~", false, true},
		{".env", false, false}, // gitignored, but kept: the lead reloads it
	}
	for _, tt := range tests {
		if got := m.ignored(tt.path, tt.isDir); got != tt.want {
			t.Errorf("ignored(%q, dir %v) = %v, want %v", tt.path, tt.isDir, got, tt.want)
		}
	}
}
