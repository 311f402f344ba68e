package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynobox/dynobox/internal/testutil"
	"github.com/dynobox/dynobox/runner"
)

// A push to a stopped app runs its release command inside the push, with
// the app's add-ons started for it, as Heroku runs the release phase
// against the app's add-ons: what it writes to Postgres is there at the
// next start, and a failing release command rejects the push.

const pushReleaseScript = `#!/bin/sh
psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qc "CREATE TABLE IF NOT EXISTS pushes(sha text); INSERT INTO pushes VALUES ('$HEROKU_SLUG_COMMIT')"
echo "release of $HEROKU_SLUG_COMMIT recorded"
`

const pushWorkerScript = `#!/bin/sh
echo "worker sees [$(psql "$DATABASE_URL" -Atc "SELECT string_agg(sha, ',') FROM pushes")] running $HEROKU_SLUG_COMMIT"
exec sleep 1000
`

func TestGitPushToAStoppedAppRunsItsReleaseCommandWithItsAddons(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"app.json":   `{"addons": ["heroku-postgresql"]}`,
		"release.sh": pushReleaseScript,
		"worker.sh":  pushWorkerScript,
		"Procfile":   "release: sh release.sh\nworker: sh worker.sh\n",
	})
	gitIn(t, dir, "init", "-q", "-b", "main")
	v1 := commitAll(t, dir, "v1")
	if _, stderr, code := runDynobox(t, dir, "git:remote"); code != 0 {
		t.Fatalf("git:remote: %s", stderr)
	}
	// A broken work-tree Procfile does not block the push: the slug's counts.
	writeFile(t, filepath.Join(dir, "Procfile"), "this is not a Procfile\n")
	out, code := gitRun(t, dir, "push", "dynobox", "main")
	if code != 0 || !strings.Contains(out, "release of "+v1+" recorded") || !strings.Contains(out, "the next dynobox start runs v2") {
		t.Fatalf("git push: exit %d\n%s", code, out)
	}

	// A failing release command rejects the push; the release is recorded
	// as failed and the next start runs the one before, without retrying it.
	writeFile(t, filepath.Join(dir, "release.sh"), "echo migration failed; exit 3\n")
	gitIn(t, dir, "commit", "-q", "-m", "v2", "release.sh") // the broken work-tree Procfile stays uncommitted
	out, code = gitRun(t, dir, "push", "dynobox", "main")
	if code == 0 || !strings.Contains(out, "migration failed") || !strings.Contains(out, "status 3") || !strings.Contains(out, "Push rejected") {
		t.Fatalf("git push with a failing release command: exit %d\n%s", code, out)
	}
	if got := gitIn(t, dir, "ls-remote", "dynobox", "main"); !strings.HasPrefix(got, v1) {
		t.Fatalf("the rejected push moved the remote's main: %s", got)
	}

	// The start runs the pushed release's Procfile; the broken one in the
	// work tree is a warning.
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--dashboard", "off")
	p.waitOutput("| worker sees [" + v1 + "] running " + v1 + "\n")
	if !strings.Contains(p.out.String()+p.err.String(), "the work tree's Procfile is not used") {
		t.Fatalf("no warning about the work tree's Procfile:\n%s\n%s", p.out, p.err)
	}
	if p.hasOutput("migration failed") || p.hasOutput("heroku[release.") {
		t.Fatalf("the start ran a release command again:\n%s", p.out)
	}
	stopApp(t, p)
	rels, _, _ := runDynobox(t, dir, "releases")
	if releaseOf(t, rels, "Deploy "+v1[:7]) != "v2" {
		t.Fatalf("releases:\n%s", rels)
	}
}

// While a push releases a stopped app (its release command running with
// the add-ons), a "dynobox run" and a "dynobox start" wait for it, saying
// so, instead of failing with "already running"; and a push that finds a
// start holding the app before it answers waits for it rather than
// failing.
func TestPushReleaseAndStartWaitForEachOther(t *testing.T) {
	t.Parallel()
	gates := t.TempDir()
	started, gate := filepath.Join(gates, "started"), filepath.Join(gates, "gate")
	dir := writeApp(t, map[string]string{
		// The release command says it began, then waits for the gate.
		"release.sh": fmt.Sprintf("touch %s\nwhile [ ! -e %s ]; do sleep 0.1; done\necho released $HEROKU_SLUG_COMMIT\n", started, gate),
		"Procfile":   "release: sh release.sh\nworker: echo worker runs $HEROKU_SLUG_COMMIT; exec sleep 1000\n",
	})
	gitIn(t, dir, "init", "-q", "-b", "main")
	if _, stderr, code := runDynobox(t, dir, "git:remote"); code != 0 {
		t.Fatalf("git:remote: %s", stderr)
	}
	// push commits the next version and pushes it in the background;
	// done waits for it to succeed.
	push := func(version string) (sha string, out *testutil.Buffer, done func() string) {
		t.Helper()
		os.Remove(started)
		writeFile(t, filepath.Join(dir, "VERSION"), version)
		sha = commitAll(t, dir, version)
		out = &testutil.Buffer{}
		cmd := gitCmd(context.Background(), dir, "push", "dynobox", "main")
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // git and its hook, to kill together
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var err error
		exited := make(chan struct{})
		go func() { err = cmd.Wait(); close(exited) }()
		ended := func(limit time.Duration) bool {
			select {
			case <-exited:
				return true
			case <-time.After(limit):
				return false
			}
		}
		t.Cleanup(func() { // a failed test leaves no push waiting at the gate
			writeFile(t, gate, "")
			if !ended(time.Minute) {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		})
		return sha, out, func() string {
			t.Helper()
			if !ended(3 * time.Minute) {
				t.Fatalf("git push of %s did not end:\n%s", version, out)
			}
			if err != nil || !strings.Contains(out.String(), "released "+sha) {
				t.Fatalf("git push of %s: %v\n%s", version, err, out)
			}
			return out.String()
		}
	}
	exists := func(path string) func() bool {
		return func() bool { _, err := os.Stat(path); return err == nil }
	}

	// A one-off dyno waits for the push's release, then runs.
	_, _, pushed := push("v1")
	waitFor(t, "the release command to begin", exists(started))
	run := startDynobox(t, dir, "run", "--", "echo one-off ran")
	waitFor(t, "the run to say it waits", func() bool { return strings.Contains(run.err.String(), "A git push (pid ") })
	if run.exited() {
		t.Fatalf("the run did not wait for the push:\n%s\n%s", run.out, run.err)
	}
	writeFile(t, gate, "")
	pushed()
	if code := run.wait(); code != 0 || !strings.Contains(run.out.String(), "one-off ran") {
		t.Fatalf("the run after the push: exit %d\n%s\n%s", code, run.out, run.err)
	}

	// A push that finds a start holding the app before its API answers
	// waits for it; here the "start" goes away without answering, and
	// the push then releases the stopped app itself.
	sd, err := runner.OpenStateDir(filepath.Join(dir, ".dynobox"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.Lock(dir, runner.NewSession(), runner.HolderStart); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sd.Unlock)
	_, out, pushed := push("v2")
	waiting := fmt.Sprintf("dynobox (pid %d) is starting the app: waiting for it to answer", os.Getpid())
	waitFor(t, "the push to wait for the start", func() bool { return strings.Contains(out.String(), waiting) })
	sd.Unlock()
	pushed()

	// A start waits for a push's release, then runs the pushed release.
	os.Remove(gate)
	v3, _, pushed := push("v3")
	waitFor(t, "the release command to begin", exists(started))
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)))
	waitFor(t, "the start to say it waits", func() bool { return strings.Contains(p.err.String(), "waiting for a git push (pid ") })
	if p.hasOutput("worker runs") {
		t.Fatalf("the start ran dynos while the push released:\n%s", p.out)
	}
	writeFile(t, gate, "")
	pushed()
	p.waitOutput("worker runs " + v3)
	stopApp(t, p)
}
