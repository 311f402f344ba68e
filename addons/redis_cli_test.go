package addons

// redis:cli and redis-cli's interactive prompt against the embedded
// backend, on a pseudo-terminal.

import (
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/dynobox/dynobox/internal/testutil"
)

func needRedisCLI(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		needed(t, "redis-cli not installed (apt-get install redis-tools)")
	}
}

func TestRedisCLIOneShot(t *testing.T) {
	t.Parallel()
	needRedisCLI(t)
	r := startRedis(t, t.TempDir())
	env := r.Env()
	out, err := exec.Command("redis-cli", "-u", env["REDIS_URL"], "PING").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PONG") {
		t.Fatalf("redis-cli -u REDIS_URL PING: %s %v", out, err)
	}
	for _, v := range []string{"REDIS_URL", "REDIS_TLS_URL"} {
		cmd, err := RedisCLI(t.Context(), env, v, "SET", "via", v)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "OK" {
			t.Fatalf("%s: %q %v", v, out, err)
		}
	}
	if _, err := RedisCLI(t.Context(), map[string]string{}, ""); err == nil || !strings.Contains(err.Error(), "REDIS_URL is not set") {
		t.Fatalf("no URL: %v", err)
	}
}

func TestRedisCLIMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	env := map[string]string{"REDIS_URL": "redis://:pw@127.0.0.1:1"}
	if _, err := RedisCLI(t.Context(), env, ""); err == nil || !strings.Contains(err.Error(), "apt-get install redis-tools") {
		t.Fatalf("missing redis-cli: %v", err)
	}
}

// TestRedisCLIInteractive drives redis-cli's interactive mode on a real
// terminal: it asks COMMAND DOCS for its hints first (what aborts it
// against bare miniredis), then runs commands typed at the prompt.
func TestRedisCLIInteractive(t *testing.T) {
	needRedisCLI(t)
	r := startRedis(t, t.TempDir())
	cmd, err := RedisCLI(t.Context(), r.Env(), "")
	if err != nil {
		t.Fatal(err)
	}
	typeAtRedisCLIPrompt(t, cmd, r.Addr()+"> ", []cliStep{
		{"SET greeting", "[NX|XX]"}, // the hint, from COMMAND DOCS
		{" hello\r", "OK"},
		{"GET greeting\r", `"hello"`},
		{"HELP SET\r", "summary:"},
		{"CLIENT SETNAME cli\r", "OK"},
		{"CLIENT GETNAME\r", `"cli"`},
		{"INFO server\r", "redis_version:" + redisVersion},
	})
}

// cliStep is a line typed at redis-cli's prompt (a "\r" ends it) and text
// its answer must show.
type cliStep struct{ typed, want string }

// typeAtRedisCLIPrompt runs cmd (redis-cli) on a terminal, waits for
// prompt, types each step, waits for its answer, then quits.
func typeAtRedisCLIPrompt(t *testing.T, cmd *exec.Cmd, prompt string, steps []cliStep) {
	t.Helper()
	cmd.Env = append(cmd.Env, "TERM=xterm", "HOME="+t.TempDir())
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	screen := &ptyScreen{}
	go io.Copy(screen, tty)
	screen.waitFor(t, prompt)
	for _, s := range steps {
		mark := screen.Len()
		tty.WriteString(s.typed)
		screen.waitForAfter(t, mark, s.want)
		if strings.HasSuffix(s.typed, "\r") {
			// The next line is typed at the next prompt: typed while the
			// answer still prints, redis-cli's line editor is not reading.
			screen.waitForAfter(t, mark+strings.Index(screen.String()[mark:], s.want)+len(s.want), prompt)
		}
	}
	tty.WriteString("QUIT\r")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("redis-cli exited: %v\n%s", err, screen.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("redis-cli did not quit\n%s", screen.String())
	}
}

// ptyScreen accumulates what a program wrote to its terminal.
type ptyScreen struct{ testutil.Buffer }

func (s *ptyScreen) waitFor(t *testing.T, want string) { s.waitForAfter(t, 0, want) }

func (s *ptyScreen) waitForAfter(t *testing.T, from int, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		text := s.String()
		if strings.Contains(text[from:], want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminal never showed %q; screen: %q", want, text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
