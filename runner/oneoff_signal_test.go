package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// ps:stop of a detached one-off dyno: Signal reaches its whole process
// group as soon as its name is out (its first lifecycle line), and after
// it ended Signal says it is not running.
func TestOneOffSignalStopsItsProcessGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	named := make(chan struct{})
	o := &OneOff{AppDir: dir, Env: os.Environ(), Session: NewSession(), Stdout: out, Stderr: out,
		// A background job and the command: both must go.
		Args: []string{"sleep 1000 & echo $! > " + pids + "; echo $$ >> " + pids + "; wait"},
		Event: func(dyno, msg string) {
			if msg == "State changed from starting to up" {
				close(named)
			}
		}}
	if err := o.Signal(syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Signal before Run: %v, want ErrNotRunning", err)
	}
	done := make(chan error, 1)
	go func() { done <- o.Run(context.Background()) }()
	<-named
	if err := o.Signal(0); err != nil { // its name is out: it is signallable
		t.Fatalf("Signal once named: %v", err)
	}
	group := readPIDs(t, pids, 2) // the command and its job
	if err := o.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	select {
	case err := <-done:
		var exit *ExitError
		if !errors.As(err, &exit) || exit.Status != 128+int(syscall.SIGTERM) {
			t.Fatalf("Run after SIGTERM: %v; want exit status %d", err, 128+int(syscall.SIGTERM))
		}
	case <-time.After(time.Minute):
		t.Fatal("SIGTERM did not stop the one-off dyno")
	}
	waitGone(t, group)
	if err := o.Signal(syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Signal after the dyno ended: %v, want ErrNotRunning", err)
	}
}
