package watch

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// git runs git in dir and fails the test on error.
func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// What git ignores never deploys, wherever git reads that from: here
// .git/info/exclude and the user's core.excludesFile, which the watcher's
// own .gitignore reader does not see. The writes are a dyno's one-shot
// writes without privilege, which nothing else attributes: the /proc scan
// misses most of them.
func TestGitIgnoredWritesNeverDeploy(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed to tell what git ignores: %v", err)
	}
	root := mkTree(t, "a.txt", "saved/.keep", "cache/.keep")
	excludes := filepath.Join(t.TempDir(), "ignore")
	if err := os.WriteFile(excludes, []byte("cache/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	global := filepath.Join(t.TempDir(), "gitconfig")
	if err := os.WriteFile(global, []byte("[core]\n\texcludesFile = "+excludes+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_CONFIG_GLOBAL", global)
	git(t, root, "init", "-q")
	if err := os.WriteFile(filepath.Join(root, ".git/info/exclude"), []byte("saved/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, root, "add", "a.txt")
	git(t, root, "commit", "-q", "-m", "a")

	marker := fmt.Sprint(time.Now().UnixNano())
	var notes noticesOf
	h := start(t, root, Options{
		Writers:    markedWriters{marker, root},
		Notice:     notes.add,
		noFanotify: true,
		Settle:     -1,
		Tracked: func(root string, paths []string) map[string]bool {
			out := gitTracked(root, paths)
			for _, p := range paths {
				// quiet's sentinel may come while the callback before
				// still runs: yours all the same.
				out[p] = out[p] || strings.HasPrefix(p, "sentinel-")
			}
			return out
		},
	})
	dyno(t, root, marker, `i=0; while [ $i -lt 20 ]; do i=$((i+1)); echo "upload $i" > saved/$i.txt; echo "page $i" > cache/$i.html; done; exec sleep 1000`)
	waitFiles(t, filepath.Join(root, "saved"), 21)
	waitFiles(t, filepath.Join(root, "cache"), 21)
	h.write("a.txt", "yours")
	if c := h.next(); !slices.Equal(c.Paths, []string{"a.txt"}) {
		t.Fatalf("got %v, want only the save of a.txt; notices:\n%s", c.Paths, notes.String())
	}
	h.quiet()
}

// gitIgnored asks git: names that look like pathspec magic or globs are
// names, a file git tracks is not ignored even when a pattern matches it,
// an app in a subdirectory of a repository is asked about relative to
// itself, and outside a repository nothing is ignored.
func TestGitIgnored(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed to tell what git ignores: %v", err)
	}
	repo := mkTree(t, "app/.gitignore", "app/kept.log", "app/main.go")
	if err := os.WriteFile(filepath.Join(repo, "app/.gitignore"), []byte("*.log\n:odd\na[*]b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "init", "-q")
	git(t, repo, "add", "-f", "app/kept.log", "app/main.go")
	git(t, repo, "commit", "-q", "-m", "a")
	got := gitIgnored(filepath.Join(repo, "app"), []string{":odd", "a*b", "aXb", "new.log", "kept.log", "main.go", "gone/x.log"})
	want := map[string]bool{":odd": true, "a*b": true, "new.log": true, "gone/x.log": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := gitIgnored(t.TempDir(), []string{"x.log"}); len(got) != 0 {
		t.Fatalf("outside a repository: got %v, want none", got)
	}
}
