package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's demo command must work from a fresh clone: web and worker
// with Postgres, Redis and Kafka from app.json.
func TestDemoAppFromProcfileExample(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	state := t.TempDir() // keep the test's state out of the work tree
	p := startDynobox(t, root, "start", "-f", "Procfile.example", "-e", ".env.example", "-p", strconv.Itoa(port), "--state-dir", state, "--boot-timeout", "240")
	deadline := time.Now().Add(4 * time.Minute) // go run compiles, on a busy machine
	for !p.hasOutput("heroku[web.1] | State changed from starting to up") {
		if time.Now().After(deadline) || p.cmd.ProcessState != nil {
			t.Fatalf("demo web did not come up:\n%s\n%s", p.out, p.err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := httpGet(t, port)
	if !strings.HasPrefix(got, "Hello from web.1, request 1. Welcome to dynobox.\nPostgres has 1 visits, Redis counted 1") {
		t.Fatalf("demo web answered %q", got)
	}
	// The web produced the visit to Kafka; the worker consumes it.
	p.waitOutput("consumed visit: web.1 GET /")
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
