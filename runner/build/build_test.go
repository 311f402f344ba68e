package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDetect(t *testing.T) {
	for _, tt := range []struct {
		files []string
		want  Kind
	}{
		{[]string{"go.mod"}, Go},
		{[]string{"package.json"}, Node},
		{[]string{"requirements.txt"}, Python},
		{[]string{"pyproject.toml"}, Python},
		{[]string{"manage.py"}, Python},
		{[]string{"Gemfile"}, Ruby},
		{[]string{"Procfile", "README.md"}, None},
		// Heroku's order: Ruby, Node.js, Python, …, Go.
		{[]string{"go.mod", "package.json"}, Node},
		{[]string{"package.json", "Gemfile"}, Ruby},
		{[]string{"go.mod", "requirements.txt"}, Python},
	} {
		app := t.TempDir()
		for _, f := range tt.files {
			writeFiles(t, app, map[string]string{f: ""})
		}
		if p, err := Detect(app); err != nil || p.Kind != tt.want {
			t.Errorf("Detect(%v) = %v, %v; want %s", tt.files, p.Kind, err, tt.want)
		}
	}
	if _, err := Detect(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Detect of a missing directory should fail")
	}
}

func TestCommandBuild(t *testing.T) {
	app := t.TempDir()
	env := append(os.Environ(), "GREETING=hello from config")
	res, logs := mustBuild(t, app, Plan{Kind: Command, Command: `echo "$GREETING"; echo to-stderr >&2; pwd; printf 'no newline'`}, Options{Env: env})
	for _, want := range []string{"hello from config", "to-stderr", app, "no newline"} {
		if !strings.Contains(logs.text(), "\n"+want+"\n") {
			t.Errorf("log should have the line %q:\n%s", want, logs.text())
		}
	}
	if res.Binaries != nil {
		t.Errorf("a command build keeps no binaries: %v", res.Binaries)
	}

	res, err, _ := build(t, app, Plan{Kind: Command, Command: "echo failing; exit 3"}, Options{})
	if err == nil || !strings.Contains(err.Error(), `sh -c "echo failing; exit 3": exit status 3`) {
		t.Fatalf("err = %v", err)
	}
	if res.Status != Failed || !strings.Contains(res.Output, "failing") {
		t.Fatalf("result %+v", res)
	}
}

func TestNoBuild(t *testing.T) {
	res, _ := mustBuild(t, t.TempDir(), Plan{Kind: None}, Options{})
	if res.ID != "b1" {
		t.Fatalf("id %s", res.ID)
	}
}

func TestMissingToolIsNamed(t *testing.T) {
	_, err, _ := build(t, t.TempDir(), Plan{Kind: Ruby}, Options{Env: []string{"PATH=/nonexistent"}})
	if err == nil || !strings.Contains(err.Error(), `bundle install: exec: "bundle": executable file not found in $PATH`) {
		t.Fatalf("err = %v", err)
	}
}

func TestOutputIsBounded(t *testing.T) {
	// 4000 lines of 100 bytes, one of 200 KiB: Log sees every line (the long
	// one in 64 KiB pieces), Output only the last 64 KiB from a line start.
	cmd := `i=0; while [ $i -lt 4000 ]; do printf '%099d\n' $i; i=$((i+1)); done; head -c 204800 /dev/zero | tr '\0' x; echo; echo last`
	res, logs := mustBuild(t, t.TempDir(), Plan{Kind: Command, Command: cmd}, Options{})
	if n := len(logs.lines); n != 1+1+4000+4+1+1 { // header, running, lines, pieces, last, footer
		t.Errorf("Log got %d lines", n)
	}
	if len(res.Output) > tailSize {
		t.Errorf("Output is %d bytes, want at most %d", len(res.Output), tailSize)
	}
	if !strings.Contains(res.Output, "\nlast\n") || strings.Contains(res.Output, "0003999") {
		t.Errorf("Output should be the tail: ends %q", res.Output[len(res.Output)-80:])
	}
}

func TestCancelKillsTheWholeGroup(t *testing.T) {
	app := t.TempDir()
	pidFile := filepath.Join(app, "grandchild.pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	var once bool
	opts := Options{AppDir: app, Log: func(l string) {
		if l == "started" && !once {
			once = true
			close(started)
		}
	}}
	done := make(chan error, 1)
	var res Result
	go func() {
		var err error
		// A build step whose child ignores SIGTERM: only SIGKILL to the
		// group stops it.
		res, err = Run(ctx, Plan{Kind: Command, Command: `sh -c 'trap "" TERM; sleep 300' & echo $! > grandchild.pid; echo started; wait`}, opts)
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("build did not start")
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	t0 := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(termGrace + 5*time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if res.Status != Failed {
		t.Fatalf("status %q", res.Status)
	}
	t.Logf("cancelled in %v", time.Since(t0))
	waitFor(t, fmt.Sprintf("grandchild %d gone", pid), func() bool { return !alive(pid) })
}

// alive reports whether pid runs (a zombie does not count).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func TestIDsAreSequential(t *testing.T) {
	state := t.TempDir()
	for i := 1; i <= 3; i++ {
		id, err := nextID(state)
		if err != nil || id != "b"+strconv.Itoa(i) {
			t.Fatalf("nextID = %q, %v", id, err)
		}
	}
	// A lost counter does not reuse a kept build's id.
	os.Remove(filepath.Join(state, "builds/last-id"))
	if err := os.MkdirAll(filepath.Join(state, "builds/b7"), 0o700); err != nil {
		t.Fatal(err)
	}
	if id, _ := nextID(state); id != "b8" {
		t.Fatalf("after losing last-id: %s, want b8", id)
	}
}

func TestCancelEscalatesToSIGKILL(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{}, 1)
	opts := Options{AppDir: t.TempDir(), Log: func(l string) {
		if l == "started" {
			started <- struct{}{}
		}
	}}
	done := make(chan error, 1)
	go func() {
		// The whole group ignores SIGTERM.
		_, err := Run(ctx, Plan{Kind: Command, Command: `trap "" TERM; echo started; sleep 300`}, opts)
		done <- err
	}()
	<-started
	t0 := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(t0); d < termGrace {
			t.Fatalf("returned after %v, before the SIGTERM grace", d)
		}
	case <-time.After(termGrace + 5*time.Second):
		t.Fatal("SIGKILL did not follow the grace period")
	}
}
