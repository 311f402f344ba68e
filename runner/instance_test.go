package runner

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/internal/testutil"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/state"
)

// Run starts the watchdog as os.Executable() — here the test binary, which
// must then be the watchdog rather than run the tests again.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == WatchdogArg {
		RunWatchdog(os.Args[2])
		return
	}
	os.Exit(m.Run())
}

// instanceOptions runs procfile in a fresh app directory on a free port,
// without a build, a watcher, a dashboard or a web side.
func instanceOptions(t *testing.T, procfile string) (Options, *testutil.Buffer) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Procfile"), []byte(procfile), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &testutil.Buffer{} // the terminal sink writes it while the test reads
	return Options{
		Load:      LoadOptions{Dir: dir, Port: freeTestPort(t)},
		StateDir:  filepath.Join(dir, ".dynobox"),
		Dashboard: "off",
		Build:     BuildNone,
		Terminal:  logbus.NewTerminal(out, logbus.Compact, false),
		// No Notice: a fresh app has nothing to warn about.
		StopTimeout: 5 * time.Second, BootTimeout: wait,
	}, out
}

// savedLogs is the app's log history, as logs on the stopped app shows it.
func savedLogs(t *testing.T, o Options) string {
	t.Helper()
	store, err := state.Open(filepath.Join(o.StateDir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	lines, err := store.RecentLogs(HistoryLines)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Source + "[" + l.Process + "]: " + l.Text + "\n")
	}
	return b.String()
}

func waitOutput(t *testing.T, out *testutil.Buffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(wait); !strings.Contains(out.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output:\n%s", want, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Open takes the app — its lock and its port — and runs nothing; Run
// runs the dynos until its context ends, naming the signal; Close gives
// everything back, once.
func TestInstanceOpenRunClose(t *testing.T) {
	t.Parallel()
	o, out := instanceOptions(t, "worker: echo boot''ed; exec sleep 1000\n") // the command does not say "booted"
	in, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Load.Port))
	if l, err := net.Listen("tcp", addr); err == nil {
		l.Close()
		t.Fatalf("after Open, the public port %s is free", addr)
	}
	if second, err := Open(context.Background(), o); err == nil {
		second.Close()
		t.Fatal("a second Open of the same app succeeded")
	}
	if out.String() != "" {
		t.Fatalf("Open wrote to the terminal:\n%s", out)
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- in.Run(ctx) }()
	waitOutput(t, out, "| booted")
	cancel(&Interrupted{Signal: "SIGTERM"})
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run after a signal: %v, want nil", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return once its context ended")
	}
	waitOutput(t, out, "Received SIGTERM: stopping all dynos")
	if err := in.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := in.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("after Close, the public port is still taken: %v", err)
	}
	l.Close()
	if logs := savedLogs(t, o); !strings.Contains(logs, "app[worker.1]: booted") {
		t.Fatalf("the history lacks the dyno's output:\n%s\nterminal:\n%s", logs, out)
	}
	again, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}

// A run that fails says why in the log history, whether Open, Run or
// Close failed: logs on the stopped app reads it back.
func TestInstanceFailuresAreSavedInTheHistory(t *testing.T) {
	t.Parallel()
	o, _ := instanceOptions(t, "worker: exec sleep 1000\n")
	o.Build = "echo 'main.go:3: undefined: foo'; exit 1"
	in, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	err = in.Run(context.Background())
	if !errors.Is(err, ErrBuildFailed) || !strings.HasSuffix(err.Error(), "; no dyno was started") {
		t.Fatalf("Run with a failing build: %v", err)
	}
	if err := in.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	logs := savedLogs(t, o)
	for _, want := range []string{"app[build]: main.go:3: undefined: foo", "heroku[dynobox]: " + err.Error()} {
		if !strings.Contains(logs, want) {
			t.Errorf("the history lacks %q:\n%s", want, logs)
		}
	}

	// Open's own failure, once it has the state: the port is taken.
	holder, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Load.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	_, err = Open(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "is in use by another process") {
		t.Fatalf("Open with the port taken: %v", err)
	}
	if logs := savedLogs(t, o); !strings.Contains(logs, "heroku[dynobox]: "+err.Error()) {
		t.Fatalf("the history lacks %q:\n%s", err, logs)
	}
}

// Bad input is an *InputError (exit 2), found by Open before anything runs.
func TestInstanceOpenRefusesAnEmptyFormation(t *testing.T) {
	t.Parallel()
	o, _ := instanceOptions(t, "worker: exec sleep 1000\n")
	o.Formation = []string{"worker=0"}
	_, err := Open(context.Background(), o)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "the formation has no dynos") {
		t.Fatalf("Open with worker=0: %v, want an InputError", err)
	}
}

// With ExitOnCrash a dyno's exit ends the run with its status.
func TestInstanceExitOnCrash(t *testing.T) {
	t.Parallel()
	o, out := instanceOptions(t, "worker: exit 3\n")
	o.ExitOnCrash = true
	in, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	err = in.Run(context.Background())
	var crash *CrashError
	if !errors.As(err, &crash) || crash.Dyno != "worker.1" || crash.Status != 3 {
		t.Fatalf("Run: %v, want worker.1's crash with status 3", err)
	}
	waitOutput(t, out, "worker.1 exited with status 3: stopping all dynos (--exit-on-crash)")
}

// An add-on created with addons:create while the app runs with none is
// stopped with the app: Close leaves no server listening.
func TestInstanceStopsAnAddonCreatedWhileRunningWithoutAddons(t *testing.T) {
	t.Parallel()
	o, out := instanceOptions(t, "worker: echo boot''ed; exec sleep 1000\n")
	in, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- in.Run(ctx) }()
	waitOutput(t, out, "| booted")
	st, _, err := in.ctl.CreateAddon(addons.Spec{Plan: "heroku-redis:mini"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", st.Addr)
	if err != nil {
		t.Fatalf("the created add-on does not listen on %q: %v", st.Addr, err)
	}
	conn.Close()
	cancel(&Interrupted{Signal: "SIGTERM"})
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := in.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if conn, err := net.Dial("tcp", st.Addr); err == nil {
		conn.Close()
		t.Fatalf("after Close, the created add-on still listens on %s", st.Addr)
	}
}
