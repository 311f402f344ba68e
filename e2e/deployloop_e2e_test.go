package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What dynobox, its builds and its dynos write into the app directory is
// never a reason to deploy; a save of yours is.

// deploysIn counts the releases made by deploys in a dynobox output.
func deploysIn(out string) int { return strings.Count(out, "created: deploy of build") }

var changedLine = regexp.MustCompile(`Changed: (.*)`)

// saveAndCountDeploys saves a.txt twice, each time waiting for its
// deploy, then watches for 3 seconds more: two saves, two deploys, and
// nothing but a.txt started one.
func saveAndCountDeploys(t *testing.T, dir string, out func() string) {
	t.Helper()
	base := deploysIn(out())
	for i := 1; i <= 2; i++ {
		writeFile(t, filepath.Join(dir, "a.txt"), fmt.Sprint("save ", i))
		waitFor(t, fmt.Sprintf("the deploy of save %d", i), func() bool { return deploysIn(out()) >= base+i })
	}
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if n := deploysIn(out()) - base; n > 2 {
			t.Fatalf("2 saves made %d deploys:\n%s", n, out())
		}
	}
	for _, m := range changedLine.FindAllStringSubmatch(out(), -1) {
		if m[1] != "a.txt" {
			t.Errorf("a deploy started for %q, not for a save:\n%s", m[1], out())
		}
	}
	if n := deploysIn(out()) - base; n != 2 {
		t.Fatalf("2 saves made %d deploys:\n%s", n, out())
	}
}

// A dyno that writes into the app directory as it boots: o/$DYNO (a new
// directory), an upload, a log without .log, a SQLite database.
func TestDynoWritesStartNoDeploy(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": `worker: mkdir -p o public/uploads; date +%s%N > o/$DYNO; date +%s%N > public/uploads/$DYNO.png; date >> visits.txt; date > db.sqlite3; exec sleep 1000` + "\n",
		"a.txt":    "0",
	})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--no-watch=false", "--build", "echo compiling")
	p.waitOutput("Watching " + dir)
	saveAndCountDeploys(t, dir, p.out.String)
	p.waitOutput("Not deploying for what the") // the dynos wrote, or the last deploy
	stopApp(t, p)
}

// A build that writes a file into the app directory.
func TestBuildWritesStartNoDeploy(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile":         "worker: exec sleep 1000\n",
		"a.txt":            "0",
		"public/index.txt": "hello",
	})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--no-watch=false", "--build", "date +%s%N > public/stamp.txt")
	p.waitOutput("Watching " + dir)
	saveAndCountDeploys(t, dir, p.out.String)
	// The build's write is named as the build's (where dynobox tells the
	// writer) or as the last deploy's.
	said := regexp.MustCompile(`Not deploying for what the (dynos and builds|last deploy) wrote[^:]*: public/stamp\.txt`)
	waitFor(t, "a notice naming public/stamp.txt", func() bool { return said.MatchString(p.out.String()) })
	stopApp(t, p)
}

// dynobox start > dev.out inside the app directory: its own lines.
func TestOutputRedirectedIntoTheAppDirStartsNoDeploy(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "worker: while true; do echo tick; sleep 0.2; done\n",
		"a.txt":    "0",
	})
	outPath := filepath.Join(dir, "dev.out")
	f, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(dynoboxBin, "start", "-p", strconv.Itoa(freePort(t)), "--dashboard", "off", "--build", "echo compiling")
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, f, f
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	out := func() string { data, _ := os.ReadFile(outPath); return string(data) }
	waitFor(t, "Watching", func() bool { return strings.Contains(out(), "Watching "+dir) })
	saveAndCountDeploys(t, dir, out)
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dynobox: %v\n%s", err, out())
	}
}

// A dyno that rewrites a file every 0.3 s, long after it booted: where
// dynobox tells the writer (runner/watch/writers.go) it never deploys;
// what slips through, the loop guard stops after a few deploys; either
// says so. A save of a file git tracks still deploys, even right after a
// deploy.
func TestLoopGuardStopsADynoRewritingAFile(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "worker: while true; do date +%s%N > data.txt; sleep 0.3; done\n",
		"a.txt":    "0",
	})
	git(t, dir, "init", "-q")
	git(t, dir, "add", "Procfile", "a.txt")
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--no-watch=false", "--build", "echo compiling")
	p.waitOutput("Watching " + dir)
	said := regexp.MustCompile(`Not deploying for what the dynos and builds wrote: data\.txt|Not deploying on changes to data\.txt any more`)
	for deadline := time.Now().Add(time.Minute); !said.MatchString(p.out.String()); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("nothing said data.txt does not deploy within a minute:\n%s", p.out)
		}
	}
	if n := strings.Count(p.out.String(), "Changed: data.txt"); n > 3 {
		t.Fatalf("data.txt made %d deploys before the guard:\n%s", n, p.out)
	}
	base := deploysIn(p.out.String())
	writeFile(t, filepath.Join(dir, "a.txt"), "yours")
	waitFor(t, "the deploy of a save", func() bool { return deploysIn(p.out.String()) > base })
	stopApp(t, p)
}

// git runs git in dir.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// .dynobox keeps itself out of git from the first start.
func TestStateDirStaysOutOfGit(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"Procfile": "worker: exec sleep 1000\n"})
	git(t, dir, "init", "-q")
	git(t, dir, "add", "Procfile")
	git(t, dir, "commit", "-q", "-m", "app")
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)))
	p.waitOutput("State changed from starting to up")
	if st := git(t, dir, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Fatalf("git status while dynobox runs:\n%s", st)
	}
	stopApp(t, p)
	if st := git(t, dir, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Fatalf("git status after dynobox ran:\n%s", st)
	}
}

// Deleting .dynobox while dynobox runs does not let a second start run a
// second supervisor for the same app.
func TestSecondStartFailsEvenWithoutTheStateDir(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"Procfile": "worker: exec sleep 1000\n"})
	port := strconv.Itoa(freePort(t))
	p := startDynobox(t, dir, "start", "-p", port)
	p.waitOutput("State changed from starting to up")
	if err := os.RemoveAll(filepath.Join(dir, ".dynobox")); err != nil {
		t.Fatal(err)
	}
	// Another port: the public port held is no lock.
	_, stderr, code := runDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--dashboard", "off")
	want := fmt.Sprintf("already running for %s (pid %d)", dir, p.cmd.Process.Pid)
	if code != 1 || !strings.Contains(stderr, want) {
		t.Fatalf("second start: exit %d, stderr %q, want %q", code, stderr, want)
	}
	stopApp(t, p)
}
