package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynobox/dynobox/internal/testutil"
)

// A one-off dyno's status is Run's answer: nil for 0, an *ExitError with
// the status otherwise.
func TestOneOffExitStatus(t *testing.T) {
	t.Parallel()
	for cmd, want := range map[string]int{"true": 0, "exit 3": 3} {
		o := &OneOff{AppDir: t.TempDir(), Env: os.Environ(), Args: []string{cmd}, Session: NewSession(), Stdout: &testutil.Buffer{}, Stderr: &testutil.Buffer{}}
		err := o.Run(context.Background())
		var ee *ExitError
		switch {
		case want == 0 && err != nil:
			t.Errorf("%s: Run = %v, want nil", cmd, err)
		case want != 0 && (!errors.As(err, &ee) || ee.Status != want):
			t.Errorf("%s: Run = %v, want status %d", cmd, err, want)
		}
	}
}

// Run's context ending stops the one-off dyno: SIGTERM, then SIGKILL when
// it ignores that; Run returns once it is gone, with the signal's status.
func TestOneOffEndsWithItsContext(t *testing.T) {
	t.Parallel()
	for cmd, want := range map[string]int{
		"echo ready; sleep 1000": 128 + 15,
		// The shell ignores SIGTERM; its loop outlives each sleep TERM ends.
		"trap '' TERM; echo ready; while :; do sleep 1; done": 128 + 9,
	} {
		ctx, cancel := context.WithCancel(context.Background())
		o := &OneOff{AppDir: t.TempDir(), Env: os.Environ(), Args: []string{cmd}, Session: NewSession(),
			Stdout: cancelOn{"ready", cancel}, Stderr: &testutil.Buffer{}, StopTimeout: 100 * time.Millisecond}
		ran := make(chan error, 1)
		go func() { ran <- o.Run(ctx) }()
		select {
		case err := <-ran:
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Status != want {
				t.Errorf("%s: Run = %v once its context ended, want status %d", cmd, err, want)
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s: Run still runs a minute after its context ended", cmd)
		}
		cancel()
	}
}

// cancelOn calls cancel once text is written (the dyno is ready).
type cancelOn struct {
	text   string
	cancel context.CancelFunc
}

func (c cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.text) {
		c.cancel()
	}
	return len(p), nil
}

// ps:stop of a detached one-off dyno ends its Run's context: the whole
// process group goes (the command and its background job), and the log
// says so as Heroku's does.
func TestOneOffStopEndsItsProcessGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	var mu sync.Mutex
	var events []string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := &OneOff{AppDir: dir, Env: os.Environ(), Session: NewSession(), Stdout: &testutil.Buffer{}, Stderr: &testutil.Buffer{},
		// A background job and the command: both must go.
		Args:  []string{"sleep 1000 & echo $! > " + pids + "; echo $$ >> " + pids + "; wait"},
		Event: func(dyno, msg string) { mu.Lock(); events = append(events, msg); mu.Unlock() }}
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	group := readPIDs(t, pids, 2) // the command and its job
	cancel()
	var exit *ExitError
	if err := <-done; !errors.As(err, &exit) || exit.Status != 128+int(syscall.SIGTERM) {
		t.Fatalf("Run after its context ended: %v; want exit status %d", err, 128+int(syscall.SIGTERM))
	}
	waitGone(t, group)
	mu.Lock()
	got := strings.Join(events, "\n")
	mu.Unlock()
	if !strings.Contains(got, "Stopping all processes with SIGTERM\nProcess exited with status 143") {
		t.Fatalf("lifecycle lines:\n%s", got)
	}
}
