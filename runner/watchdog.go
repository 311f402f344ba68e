package runner

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// WatchdogArg is the hidden subcommand that runs a watchdog process.
const WatchdogArg = "__watchdog"

// Watchdog is a small helper process that outlives a dynobox killed with
// SIGKILL just long enough to stop everything that dynobox started. It
// waits for EOF on a pipe whose only writer is dynobox: the kernel closes
// it when dynobox dies, however it dies.
type Watchdog struct {
	pipe *os.File
	cmd  *exec.Cmd
}

// StartWatchdog starts exe (normally os.Executable()) as "exe __watchdog SESSION".
func StartWatchdog(exe, session string) (*Watchdog, error) {
	r, w, err := os.Pipe() // close-on-exec: dynos never hold the write end
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := exec.Command(exe, WatchdogArg, session)
	cmd.Stdin = r
	cmd.Stderr = os.Stderr
	// Its own process group: a Ctrl-C at the terminal is for dynobox, which
	// then stops the dynos itself; the watchdog only acts on EOF.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = withoutVar(os.Environ(), SessionVar)
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start watchdog: %w", err)
	}
	return &Watchdog{pipe: w, cmd: cmd}, nil
}

// Close lets the watchdog sweep once more and exit, and waits for it.
func (w *Watchdog) Close() {
	if w == nil || w.pipe == nil {
		return
	}
	w.pipe.Close()
	w.pipe = nil
	done := make(chan struct{})
	go func() { w.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		w.cmd.Process.Kill()
		<-done
	}
}

// RunWatchdog is the watchdog's body: wait for EOF on stdin, then stop every
// process of the session.
func RunWatchdog(session string) {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGTTOU, syscall.SIGTTIN)
	io.Copy(io.Discard, os.Stdin)
	SweepSession(session, 2*time.Second)
}

func withoutVar(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if len(kv) > len(name) && kv[:len(name)] == name && kv[len(name)] == '=' {
			continue
		}
		out = append(out, kv)
	}
	return out
}
