package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/logbus/logbustest"
	"github.com/dynobox/dynobox/runner/state"
)

// A build that runs long says so on the log with its elapsed time, and
// info shows it as building until it ends; a failed build stays the
// newest build, which info and ps show.
func TestSlowBuildReportsProgressAndFailureStays(t *testing.T) {
	t.Parallel()
	dir, stateDir := t.TempDir(), t.TempDir()
	sentinel := filepath.Join(t.TempDir(), "go")
	store, err := state.Open(filepath.Join(stateDir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mem := logbustest.NewMemory(0)
	bus := logbus.New(mem)
	go bus.Run(context.Background())
	defer bus.Close()
	app := &App{Dir: dir, Procfile: testProcfile(t, "worker: exec sleep 1000\n"), FileEnv: map[string]string{}}
	c := &Controller{App: app, Store: store, Bus: bus, StateDir: stateDir, Session: NewSession(),
		BuildCommand:  "while [ ! -e " + sentinel + " ]; do sleep 0.02; done; test -s " + sentinel,
		BuildProgress: 20 * time.Millisecond}

	done := make(chan error, 1)
	go func() { _, err := c.build(false); done <- err }()
	if _, ok := mem.WaitFor(logbus.SourceHeroku, BuildProcess, "Building… ", wait); !ok {
		t.Fatalf("no progress line while the build runs:\n%v", mem.Lines())
	}
	if b := c.Build(); b == nil || b.Status != Building || b.Started.IsZero() {
		t.Fatalf("while building, Build() = %+v", b)
	}
	os.WriteFile(sentinel, nil, 0o644) // empty: the build fails
	if err := <-done; err == nil {
		t.Fatal("the build succeeded")
	}
	b := c.Build()
	if b == nil || b.Status != "failed" || b.ID != "b1" {
		t.Fatalf("after a failed build, Build() = %+v", b)
	}
}
