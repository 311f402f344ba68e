package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// copyDemo copies the demo app (example/, without what a run leaves) into
// a temporary directory, so that a test can edit it.
func copyDemo(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(demoDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(demoDir, path)
		if d.IsDir() && (rel == "bin" || rel == ".dynobox") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// The README's demo command must work from a fresh clone: the demo app
// built as Heroku's Go buildpack would, its release command, web and
// worker with Postgres, Redis and Kafka from app.json — and an edit of its
// handler must be served without a failed request.
func TestDemoAppRunsAndDeploysAnEditUnderLoad(t *testing.T) {
	t.Parallel()
	dir := copyDemo(t)
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port), "--boot-timeout", "240", "--no-watch=false")
	deadline := time.Now().Add(4 * time.Minute) // the first build compiles, on a busy machine
	for !p.hasOutput("heroku[web.1] | State changed from starting to up") {
		if time.Now().After(deadline) || p.cmd.ProcessState != nil {
			t.Fatalf("demo web did not come up:\n%s\n%s", p.out, p.err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !p.hasOutput("table visits is ready") {
		t.Fatalf("the release command did not run before the dynos:\n%s", p.out)
	}
	got := httpGet(t, port)
	if !strings.HasPrefix(got, "Hello from web.1, request 1. Welcome to dynobox.\nPostgres has 1 visits, Redis counted 1") {
		t.Fatalf("demo web answered %q", got)
	}
	// The web produced the visit to Kafka; the worker consumes it.
	p.waitOutput("consumed visit: web.1 GET /")
	p.waitOutput("Watching " + dir)

	// Edit the handler while requests keep coming.
	stop := make(chan struct{})
	ok, failed, wait := loadLoop(url, stop)
	src := filepath.Join(dir, "web", "main.go")
	code, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(code), `"Hello from %s`, `"Howdy from %s`, 1)
	if edited == string(code) {
		t.Fatal("the demo's handler no longer says \"Hello from\"")
	}
	writeFile(t, src, edited)
	deadline = time.Now().Add(3 * time.Minute)
	for !strings.HasPrefix(get(url), "Howdy from web.1") {
		if time.Now().After(deadline) || p.exited() {
			close(stop)
			t.Fatalf("the edit was not deployed:\n%s\n%s", p.out, p.err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d requests failed, %d succeeded during the deploy\n%s", failed.Load(), ok.Load(), p.out)
	}
	t.Logf("%d requests during the deploy, none failed", ok.Load())

	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.out)
	}
	for _, want := range []string{"SIGTERM received, finishing requests", "SIGTERM received, stopping"} {
		if !strings.Contains(p.out.String(), want) {
			t.Errorf("demo did not stop gracefully (%q missing):\n%s", want, p.out)
		}
	}
}
