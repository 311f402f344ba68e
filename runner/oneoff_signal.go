package runner

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// A running one-off dyno can be signalled from outside its Run: the
// Platform API's ps:stop run.NNNN of a detached one. Apart from
// oneoff.go, whose Run the lifecycle work reshapes.

// ErrNotRunning is Signal of a one-off dyno not started yet or gone.
var ErrNotRunning = errors.New("the one-off dyno is not running")

// oneOffGroup is a one-off dyno's process group while Run runs it.
type oneOffGroup struct {
	mu   sync.Mutex
	pgid int // 0: not started, or gone
}

// running records pgid as the dyno's group until the returned func runs.
func (o *OneOff) running(pgid int) (gone func()) {
	o.group.mu.Lock()
	o.group.pgid = pgid
	o.group.mu.Unlock()
	return func() {
		o.group.mu.Lock()
		o.group.pgid = 0
		o.group.mu.Unlock()
	}
}

// Signal sends sig to the one-off dyno's process group: the command and
// the jobs it started (SIGTERM asks them to stop, SIGKILL ends them).
func (o *OneOff) Signal(sig syscall.Signal) error {
	o.group.mu.Lock()
	defer o.group.mu.Unlock()
	if o.group.pgid <= 1 {
		return ErrNotRunning
	}
	if err := syscall.Kill(-o.group.pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s: %w", sig, err)
	}
	return nil
}
