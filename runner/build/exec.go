package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dynobox/dynobox/internal/proc"
)

// termGrace is how long a cancelled build's processes get between SIGTERM
// (go build removes its temp dirs) and SIGKILL.
const termGrace = 2 * time.Second

// step is one command of a build.
type step struct {
	name   string   // how errors and the log name it: "go build", "npm ci"
	dir    string   // working directory
	env    []string // full environment
	argv   []string // argv[0] is looked up in env's PATH
	stdout io.Writer
}

// exec runs s in its own process group, streaming every output line to the
// build log (stdout too unless s.stdout takes it). Cancelling ctx stops the
// whole group: SIGTERM, then SIGKILL after termGrace. Anything the step
// leaves running in its group is killed when it exits.
func (b *builder) exec(ctx context.Context, s step) error {
	path, err := lookPath(s.argv[0], s.env)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        s.argv,
		Dir:         s.dir,
		Env:         s.env,
		Stdout:      pw,
		Stderr:      pw,
		SysProcAttr: proc.GroupAttr(),
		WaitDelay:   time.Second, // bounds the copy into s.stdout, if any
	}
	if s.stdout != nil {
		cmd.Stdout = s.stdout
	}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return fmt.Errorf("%s: %w", s.name, err)
	}
	pw.Close() // the children hold the write end now
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		b.out.copyFrom(pr)
	}()

	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		// Wait for the exit without reaping, so the group id cannot be
		// reused before we kill what is left of the group.
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pgid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				break
			}
		}
		close(exited)
	}()
	select {
	case <-exited:
	case <-ctx.Done():
		proc.SignalGroup(pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(termGrace):
		}
	}
	proc.SignalGroup(pgid, syscall.SIGKILL)
	werr := cmd.Wait()
	select {
	case <-copied:
	case <-time.After(time.Second):
		// Something outside the group (a setsid daemon) still holds the
		// pipe; stop reading rather than hang the build.
	}
	pr.Close()
	<-copied

	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", s.name, context.Cause(ctx))
	}
	if werr != nil {
		return fmt.Errorf("%s: %w", s.name, werr)
	}
	return nil
}

// lookPath finds name in the PATH of env (the app's, not dynobox's).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(getenv(env, "PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

// getenv returns the last value of key in env, as the exec'd process sees it.
func getenv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// setenv returns env with key set to value (later entries win in exec).
func setenv(env []string, key, value string) []string {
	return append(env[:len(env):len(env)], key+"="+value)
}
