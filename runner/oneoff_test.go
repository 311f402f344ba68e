package runner

import (
	"context"
	"errors"
	"os"
	"strings"
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
