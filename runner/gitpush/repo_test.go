package gitpush

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestSetupAddsRemoteAndHook(t *testing.T) {
	app := t.TempDir()
	run(t, app, "git", "init", "-q")
	state := filepath.Join(app, ".dynobox")
	r, err := Setup(app, state, "/opt/dyno box/dynobox", "dynobox")
	if err != nil {
		t.Fatal(err)
	}
	if r.Updated || r.Repo != filepath.Join(state, "repo.git") {
		t.Fatalf("remote %+v", r)
	}
	if got := run(t, app, "git", "remote", "get-url", "dynobox"); got != r.Repo {
		t.Fatalf("remote url %q, want %q", got, r.Repo)
	}
	hook, err := os.ReadFile(filepath.Join(r.Repo, "hooks", "pre-receive"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(hook), "exec '/opt/dyno box/dynobox' __receive --app-dir '"+app+"'") {
		t.Fatalf("hook:\n%s", hook)
	}
	// Again: the remote is pointed at the repository again, not added twice.
	if r, err = Setup(app, state, "/usr/bin/dynobox", "dynobox"); err != nil || !r.Updated {
		t.Fatalf("second setup: %+v, %v", r, err)
	}
	if r, err = Setup(app, state, "/usr/bin/dynobox", "other"); err != nil || r.Updated {
		t.Fatalf("setup -r other: %+v, %v", r, err)
	}
}

func TestSetupOutsideARepository(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	_, err := Setup(dir, filepath.Join(dir, ".dynobox"), "/usr/bin/dynobox", "dynobox")
	if !errors.Is(err, ErrNotARepo) {
		t.Fatalf("got %v, want ErrNotARepo", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".dynobox")); err == nil {
		t.Fatal("a state directory was made for a directory that is no repository")
	}
}

func TestExportWritesTheCommitNotTheWorkTree(t *testing.T) {
	app := t.TempDir()
	run(t, app, "git", "init", "-q")
	os.WriteFile(filepath.Join(app, "a.txt"), []byte("committed"), 0o644)
	os.MkdirAll(filepath.Join(app, "bin"), 0o755)
	os.WriteFile(filepath.Join(app, "bin", "run"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink("a.txt", filepath.Join(app, "link"))
	run(t, app, "git", "add", ".")
	run(t, app, "git", "commit", "-qm", "one")
	sha := run(t, app, "git", "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(app, "a.txt"), []byte("edited"), 0o644)
	os.WriteFile(filepath.Join(app, "untracked.txt"), []byte("x"), 0o644)

	dst := filepath.Join(t.TempDir(), "build")
	if err := Export(t.Context(), app, sha, "", dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "a.txt")); string(b) != "committed" {
		t.Fatalf("a.txt = %q, want the committed text", b)
	}
	if _, err := os.Stat(filepath.Join(dst, "untracked.txt")); err == nil {
		t.Fatal("an untracked file was exported")
	}
	if fi, err := os.Stat(filepath.Join(dst, "bin", "run")); err != nil || fi.Mode()&0o100 == 0 {
		t.Fatalf("bin/run lost its exec bit: %v %v", fi, err)
	}
	if l, err := os.Readlink(filepath.Join(dst, "link")); err != nil || l != "a.txt" {
		t.Fatalf("link: %q %v", l, err)
	}
	if err := Export(t.Context(), app, "0123456789abcdef0123456789abcdef01234567", "", filepath.Join(t.TempDir(), "x")); err == nil {
		t.Fatal("no error for a commit that does not exist")
	}
}

// An app in a subdirectory of its repository (the demo: dynobox start -C
// example) deploys that directory of the pushed commit, not the top.
func TestAppInASubdirectoryDeploysItsDirectory(t *testing.T) {
	top := t.TempDir()
	run(t, top, "git", "init", "-q")
	app := filepath.Join(top, "example")
	os.MkdirAll(app, 0o755)
	os.WriteFile(filepath.Join(top, "go.mod"), []byte("module top\n"), 0o644)
	os.WriteFile(filepath.Join(app, "Procfile"), []byte("web: bin/web\n"), 0o644)
	run(t, top, "git", "add", ".")
	run(t, top, "git", "commit", "-qm", "one")
	sha := run(t, top, "git", "rev-parse", "HEAD")

	r, err := Setup(app, filepath.Join(app, ".dynobox"), "/usr/bin/dynobox", "dynobox")
	if err != nil {
		t.Fatal(err)
	}
	if got := AppSubdir(r.Repo); got != "example" {
		t.Fatalf("AppSubdir = %q, want example", got)
	}
	dst := filepath.Join(t.TempDir(), "build")
	if err := Export(t.Context(), top, sha, AppSubdir(r.Repo), dst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "Procfile")); err != nil {
		t.Fatalf("the app's Procfile is not at the top of the build: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "go.mod")); err == nil {
		t.Fatal("the repository's top was exported, not the app's directory")
	}
	err = Export(t.Context(), top, sha, "elsewhere", filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(err.Error(), "has no elsewhere/") {
		t.Fatalf("a commit without the app's directory: %v", err)
	}
	// An app at the top of its repository records no subdirectory.
	if r, err = Setup(top, filepath.Join(top, ".dynobox"), "/usr/bin/dynobox", "dynobox"); err != nil || AppSubdir(r.Repo) != "" {
		t.Fatalf("top: %q, %v", AppSubdir(r.Repo), err)
	}
}
