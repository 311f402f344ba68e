package build

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// logLines collects Log calls.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) log(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *logLines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// build runs one build of app with a fresh log.
func build(t *testing.T, app string, plan Plan, opts Options) (Result, error, *logLines) {
	t.Helper()
	logs := &logLines{}
	opts.AppDir = app
	opts.Log = logs.log
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, plan, opts)
	for _, l := range logs.lines {
		if strings.Contains(l, "\n") {
			t.Errorf("Log got a line with a newline: %q", l)
		}
	}
	return res, err, logs
}

// mustBuild is build that must succeed.
func mustBuild(t *testing.T, app string, plan Plan, opts Options) (Result, *logLines) {
	t.Helper()
	res, err, logs := build(t, app, plan, opts)
	if err != nil || res.Status != Succeeded {
		t.Fatalf("build: %v (status %q)\n%s", err, res.Status, logs.text())
	}
	return res, logs
}

// runBin runs a built binary and returns what it printed.
func runBin(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	return strings.TrimSpace(string(out))
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// slow skips, under go test -short only (the developer's fast loop), a
// test that runs a real build with a package manager or the Go toolchain:
// together they take minutes. The full suite — go test ./..., what CI
// runs — always runs them; CI=true alone never skips.
func slow(t *testing.T, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("skipped under -short: %s (go test ./runner/build runs it)", what)
	}
}

// need fails (never skips) when a tool the test needs is missing: CI
// installs it (see the package's test notes in the issue).
func need(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is not installed: %v", tool, err)
	}
}
