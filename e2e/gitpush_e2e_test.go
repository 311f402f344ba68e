package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// git push dynobox main: builds of the pushed commit, slugs, releases.

// pushAppSource is a Go web app that says its version, the commit it was
// built from and where it runs, and writes and reads a scratch file (a
// dyno's filesystem is ephemeral).
func pushAppSource(version string) string {
	return `package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

const version = "` + version + `"

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		wd, _ := os.Getwd()
		fmt.Fprintf(w, "%s commit=%s dir=%s", version, os.Getenv("HEROKU_SLUG_COMMIT"), wd)
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		os.WriteFile("scratch.txt", []byte("x"), 0o644)
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		_, err := os.Stat("scratch.txt")
		fmt.Fprint(w, err == nil)
	})
	srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv("PORT"), Handler: mux}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		panic(err)
	}
}
`
}

// gitApp is a git repository holding the push app at version, committed.
// The release command fails when the commit holds fail-release.
func gitApp(t *testing.T, version string) string {
	t.Helper()
	dir := writeApp(t, map[string]string{
		"go.mod":   "module example.com/hello\n\ngo 1.22\n",
		"main.go":  pushAppSource(version),
		"Procfile": "web: bin/hello\nrelease: test ! -e fail-release\n",
	})
	gitIn(t, dir, "init", "-q", "-b", "main")
	commitAll(t, dir, version)
	return dir
}

// gitCmd is git with args in dir, as the tests' committer.
func gitCmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "NO_COLOR=1")
	return cmd
}

// gitRun runs git in dir and returns its output and exit status.
func gitRun(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := gitCmd(ctx, dir, args...)
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, code := gitRun(t, dir, args...)
	if code != 0 {
		t.Fatalf("git %v: exit %d\n%s", args, code, out)
	}
	return strings.TrimSpace(out)
}

func commitAll(t *testing.T, dir, msg string) string {
	t.Helper()
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", msg)
	return gitIn(t, dir, "rev-parse", "HEAD")
}

// waitPrefix waits until url answers with a body starting with prefix.
func waitPrefix(t *testing.T, p *proc, url, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // only reached when the test fails
	for {
		got := get(url)
		if strings.HasPrefix(got, prefix) {
			return got
		}
		if time.Now().After(deadline) || p.exited() {
			t.Fatalf("%s answers %q, want %q…\n%s\n%s", url, got, prefix, p.out, p.err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestGitPushBuildsTheCommitAndSwapsWithoutDroppingRequests(t *testing.T) {
	t.Parallel()
	dir := gitApp(t, "v1")
	out, stderr, code := runDynobox(t, dir, "git:remote")
	if code != 0 || !strings.Contains(out, "git remote dynobox to "+filepath.Join(dir, ".dynobox", "repo.git")) {
		t.Fatalf("git:remote: exit %d\n%s%s", code, out, stderr)
	}
	if got := gitIn(t, dir, "remote", "get-url", "dynobox"); got != filepath.Join(dir, ".dynobox", "repo.git") {
		t.Fatalf("remote dynobox is %q", got)
	}
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port), "--boot-timeout", "120")
	waitPrefix(t, p, url, "v1 commit= dir="+dir) // the work tree's build, in the app directory

	// The pushed commit is built, not the work tree: v3 is only saved.
	writeFile(t, filepath.Join(dir, "main.go"), pushAppSource("v2"))
	v2 := commitAll(t, dir, "v2")
	writeFile(t, filepath.Join(dir, "main.go"), pushAppSource("v3-uncommitted"))

	stop := make(chan struct{})
	ok, failed, wait := loadLoop(url, stop)
	waitFor(t, "the load to begin", func() bool { return ok.Load() > 0 })
	out, code = gitRun(t, dir, "push", "dynobox", "main")
	if code != 0 {
		t.Fatalf("git push: exit %d\n%s\n%s", code, out, p.out)
	}
	for _, want := range []string{"remote: -----> Building… (commit " + v2[:7], "remote: -----> Go app detected", "bin/hello",
		"remote: -----> Compressing… done, ", "remote:        heroku[release.", "Starting process with command `test ! -e fail-release`",
		"State changed from up to complete", "remote: -----> Launching… done, v", "remote:        " + fmt.Sprintf("http://127.0.0.1:%d/", port) + " deployed to dynobox"} {
		if !strings.Contains(out, want) {
			t.Errorf("git push output has no %q:\n%s", want, out)
		}
	}
	body := waitPrefix(t, p, url, "v2 commit="+v2+" dir="+filepath.Join(dir, ".dynobox", "dynos", "web.1-"))
	after := ok.Load()
	waitFor(t, "requests after the swap", func() bool { return ok.Load() >= after+20 })
	close(stop)
	wait()
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed during the push's swap (%d succeeded)\n%s", failed.Load(), ok.Load(), p.out)
	}
	t.Logf("%d requests during the push, none failed; serving %q", ok.Load(), body)

	// What a dyno writes is gone when it restarts.
	get(url + "write")
	if got := get(url + "read"); got != "true" {
		t.Fatalf("the dyno does not see its own write: %q", got)
	}
	if _, stderr, code := runDynobox(t, dir, "ps:restart"); code != 0 {
		t.Fatalf("ps:restart: %s", stderr)
	}
	waitFor(t, "the restarted dyno", func() bool { return get(url+"read") == "false" })

	// A broken commit is rejected: the ref stays, the old release serves.
	writeFile(t, filepath.Join(dir, "main.go"), pushAppSource("v4")+"\nfunc broken( {\n")
	commitAll(t, dir, "broken")
	out, code = gitRun(t, dir, "push", "dynobox", "main")
	if code == 0 || !strings.Contains(out, "Push rejected, failed to compile Go app.") {
		t.Fatalf("broken push: exit %d\n%s", code, out)
	}
	if got := strings.Fields(gitIn(t, dir, "ls-remote", "dynobox", "main"))[0]; got != v2 {
		t.Fatalf("dynobox's main moved to %s after a rejected push, want %s", got, v2)
	}
	// A failing release command rejects it too.
	writeFile(t, filepath.Join(dir, "main.go"), pushAppSource("v5"))
	writeFile(t, filepath.Join(dir, "fail-release"), "")
	commitAll(t, dir, "fails its release command")
	out, code = gitRun(t, dir, "push", "dynobox", "main")
	if code == 0 || !strings.Contains(out, "release failed") {
		t.Fatalf("push whose release command fails: exit %d\n%s", code, out)
	}
	if got := strings.Fields(gitIn(t, dir, "ls-remote", "dynobox", "main"))[0]; got != v2 {
		t.Fatalf("dynobox's main moved to %s after a failed release, want %s", got, v2)
	}
	os.Remove(filepath.Join(dir, "fail-release")) // the work tree's release command runs at the rollback below
	if got := get(url); !strings.HasPrefix(got, "v2 ") {
		t.Fatalf("after rejected pushes the app answers %q, want v2", got)
	}
	// Other branches are refused, with Heroku's words.
	gitIn(t, dir, "checkout", "-q", "-b", "feature")
	out, code = gitRun(t, dir, "push", "dynobox", "feature")
	if code == 0 || !strings.Contains(out, "Pushed to non-main branch, skipping build.") {
		t.Fatalf("push of a feature branch: exit %d\n%s", code, out)
	}

	// releases shows where each came from; a rollback returns to the work
	// tree's build, and another to the pushed slug.
	out, _, _ = runDynobox(t, dir, "releases")
	if !strings.Contains(out, "Deploy "+v2[:7]) {
		t.Fatalf("releases has no deploy of %s:\n%s", v2[:7], out)
	}
	tree := releaseOf(t, out, "(work tree)")
	if _, stderr, code := runDynobox(t, dir, "releases:rollback", tree); code != 0 {
		t.Fatalf("rollback to %s: %s", tree, stderr)
	}
	waitPrefix(t, p, url, "v1 commit= dir="+dir)
	pushed := releaseOf(t, out, "Deploy "+v2[:7])
	if _, stderr, code := runDynobox(t, dir, "releases:rollback", pushed); code != 0 {
		t.Fatalf("rollback to %s: %s", pushed, stderr)
	}
	waitPrefix(t, p, url, "v2 commit="+v2)
	stopApp(t, p)
	if left, _ := filepath.Glob(filepath.Join(dir, ".dynobox", "dynos", "*")); len(left) != 0 {
		t.Errorf("the dynos' copies of the slug are left after the stop: %v", left)
	}
}

// releaseOf is the version (vN) of the release whose line has text.
func releaseOf(t *testing.T, releases, text string) string {
	t.Helper()
	for _, l := range strings.Split(releases, "\n") {
		if strings.Contains(l, text) {
			return strings.Fields(l)[0]
		}
	}
	t.Fatalf("no release %q in:\n%s", text, releases)
	return ""
}

func TestGitPushToAStoppedAppRunsAtTheNextStart(t *testing.T) {
	t.Parallel()
	dir := gitApp(t, "v1")
	if _, stderr, code := runDynobox(t, dir, "git:remote", "-r", "box"); code != 0 {
		t.Fatalf("git:remote -r box: %s", stderr)
	}
	writeFile(t, filepath.Join(dir, "main.go"), pushAppSource("v2"))
	writeFile(t, filepath.Join(dir, "Procfile"), "web: bin/hello\nworker: exec sleep 1000\n")
	v2 := commitAll(t, dir, "v2")
	gitIn(t, dir, "checkout", "-q", "-b", "other")
	out, code := gitRun(t, dir, "push", "box", "other:main")
	if code != 0 || !strings.Contains(out, "the next dynobox start runs v2") {
		t.Fatalf("git push box other:main: exit %d\n%s", code, out)
	}
	writeFile(t, filepath.Join(dir, "main.go"), pushAppSource("v3-uncommitted"))
	writeFile(t, filepath.Join(dir, "Procfile"), "web: bin/hello\n") // not pushed: the pushed Procfile runs
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port), "--boot-timeout", "120")
	waitPrefix(t, p, url, "v2 commit="+v2+" dir="+filepath.Join(dir, ".dynobox", "dynos", "web.1-"))
	verb := func(args ...string) (string, string, int) { return runDynobox(t, dir, args...) }
	waitFor(t, "worker.1 of the pushed Procfile up", func() bool { return upCount(ps(t, verb), "worker") == 1 })

	// A second push, slug to slug under load, whose Procfile drops the worker.
	writeFile(t, filepath.Join(dir, "main.go"), pushAppSource("v3"))
	v3 := commitAll(t, dir, "v3")
	stop := make(chan struct{})
	ok, failed, wait := loadLoop(url, stop)
	waitFor(t, "the load to begin", func() bool { return ok.Load() > 0 })
	if out, code := gitRun(t, dir, "push", "box", "other:main"); code != 0 {
		t.Fatalf("second push: exit %d\n%s", code, out)
	}
	waitPrefix(t, p, url, "v3 commit="+v3)
	after := ok.Load()
	waitFor(t, "requests after the swap", func() bool { return ok.Load() >= after+20 })
	close(stop)
	wait()
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed during the second push's swap (%d succeeded)\n%s", failed.Load(), ok.Load(), p.out)
	}
	waitFor(t, "the worker to go", func() bool { return len(ps(t, verb).Dynos) == 1 })
	stopApp(t, p)

	// Outside a git repository: a clear error, exit 2.
	plain := writeApp(t, map[string]string{"Procfile": "web: true\n"})
	cmd := exec.Command(dynoboxBin, "git:remote")
	cmd.Dir = plain
	cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(plain))
	msg, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(msg), "not a git repository") {
		t.Fatalf("git:remote outside a repository: exit %d %s", code, msg)
	}
}
