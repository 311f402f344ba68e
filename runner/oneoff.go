package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/dynobox/dynobox/internal/ports"
	"github.com/dynobox/dynobox/internal/proc"
)

// OneOff is a one-off dyno ("dynobox run"): a command with a dyno's
// environment, attached to our stdio, whose exit status becomes ours.
type OneOff struct {
	AppDir  string
	Env     []string // the app's env, as Config.Env
	Args    []string // one argument is a shell command line; several are quoted and joined
	Session string
	Stdin   *os.File
	Stdout  io.Writer
	Stderr  io.Writer
	// Event, when set, hears the dyno's lifecycle lines (for the running
	// app's log, as Heroku logs heroku[run.N] lines of an attached run).
	Event func(dyno, msg string)
	// StopTimeout is how long the dyno has between SIGTERM and SIGKILL
	// when Run's context ends (default 10 seconds).
	StopTimeout time.Duration
}

// ExitError is a one-off dyno that exited with a status other than 0
// (128+N when killed by signal N): its command's failure, which the
// command line exits with and does not print (the dyno said why).
type ExitError struct {
	Dyno   string
	Status int
}

func (e *ExitError) Error() string { return fmt.Sprintf("%s exited with status %d", e.Dyno, e.Status) }

func (o *OneOff) event(dyno, format string, args ...any) {
	if o.Event != nil {
		// One log line each: a multi-line command is shown on one.
		o.Event(dyno, strings.NewReplacer("\r", " ", "\n", " ").Replace(fmt.Sprintf(format, args...)))
	}
}

// Run runs the one-off dyno until it exits — nil for status 0, else an
// *ExitError — with the signals dynobox gets passed on to it. When ctx
// ends first, the dyno gets SIGTERM, then SIGKILL after StopTimeout (each
// said as a lifecycle line, as ps:stop of a detached one shows them); Run
// returns once it and everything it started are gone. Its context is how
// to stop it: there is no other handle.
func (o *OneOff) Run(ctx context.Context) error {
	if len(o.Args) == 0 {
		return &InputError{errors.New("run: no command given")}
	}
	name := fmt.Sprintf("run.%04d", 1000+rand.IntN(9000))
	port, err := ports.Pick()
	if err != nil {
		return err
	}
	command := o.Args[0]
	if len(o.Args) > 1 {
		command = ShellJoin(o.Args)
	}
	cmd := shellCommand(o.AppDir, command, DynoEnv(o.Env, o.AppDir, name, port, o.Session))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	tty := o.Stdin != nil && term.IsTerminal(int(o.Stdin.Fd()))
	if tty {
		// Make it the terminal's foreground job, as a shell would: Ctrl-C and
		// Ctrl-Z then reach it directly and it may read the terminal.
		cmd.SysProcAttr.Foreground = true
		cmd.SysProcAttr.Ctty = 0
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	// In a cgroup, as a dyno: a daemon it starts goes with it, even one
	// that left its process group and cleared its environment.
	cmd, cgDir, err := startChild(cmd, openCgroups(o.Session), name)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	o.event(name, "Starting process with command `%s`", command)
	o.event(name, "State changed from starting to up")
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		done := ctx.Done()
		var kill <-chan time.Time
		for {
			select {
			case s := <-sigs:
				proc.SignalGroup(pid, s.(syscall.Signal))
			case <-done:
				select {
				case <-exited: // gone already: nothing to stop
					return
				default:
				}
				done = nil
				o.event(name, "Stopping all processes with SIGTERM")
				proc.SignalGroup(pid, syscall.SIGTERM)
				grace := o.StopTimeout
				if grace <= 0 {
					grace = 10 * time.Second
				}
				t := time.NewTimer(grace)
				defer t.Stop()
				kill = t.C
			case <-kill:
				o.event(name, "Stopping remaining processes with SIGKILL")
				proc.SignalGroup(pid, syscall.SIGKILL)
			case <-exited:
				return
			}
		}
	}()
	cmd.Wait()
	close(exited)
	proc.ChildDone(pid)
	proc.SignalGroup(pid, syscall.SIGKILL) // the one-off dyno is gone: so are its background jobs
	killCgroup(cgDir)                      // and its daemons
	if tty {
		reclaimTerminal(int(o.Stdin.Fd()))
	}
	status := exitStatus(cmd.ProcessState)
	o.event(name, "Process exited with status %d", status)
	o.event(name, "State changed from up to complete")
	if status != 0 {
		return &ExitError{Dyno: name, Status: status}
	}
	return nil
}

// reclaimTerminal makes our process group the terminal's foreground again.
func reclaimTerminal(fd int) {
	signal.Ignore(syscall.SIGTTOU) // we are a background job until this returns
	defer signal.Reset(syscall.SIGTTOU)
	_ = unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, unix.Getpgrp())
}

// ShellJoin quotes each argument for /bin/sh and joins them with spaces.
func ShellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
