package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// runOnPTY starts "dynobox run CMD" on a pseudo-terminal, as a user typing it.
func runOnPTY(t *testing.T, command string) (*exec.Cmd, *os.File, *bufio.Reader) {
	t.Helper()
	dir := writeApp(t, map[string]string{"Procfile": "web: sleep 1000\n"})
	cmd := exec.Command(dynoboxBin, "run", command)
	cmd.Dir = dir
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close(); cmd.Process.Kill(); cmd.Wait() })
	return cmd, tty, bufio.NewReader(tty)
}

func readUntil(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		var seen strings.Builder
		for {
			line, err := r.ReadString('\n')
			seen.WriteString(line)
			if strings.Contains(seen.String(), want) || err != nil {
				got <- seen.String()
				return
			}
		}
	}()
	select {
	case s := <-got:
		if !strings.Contains(s, want) {
			t.Fatalf("terminal showed %q, want %q", s, want)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no %q on the terminal", want)
	}
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("dynobox run did not exit")
	}
	return cmd.ProcessState.ExitCode()
}

func TestRunAttachesTerminal(t *testing.T) {
	t.Parallel()
	cmd, tty, r := runOnPTY(t, `if [ -t 0 ] && [ -t 1 ]; then echo on-a-tty; fi; read answer; echo "got $answer"; exit 4`)
	readUntil(t, r, "on-a-tty")
	tty.Write([]byte("forty-two\n"))
	readUntil(t, r, "got forty-two")
	if code := waitExit(t, cmd); code != 4 {
		t.Fatalf("exit %d, want 4", code)
	}
}

func TestRunCtrlCReachesCommand(t *testing.T) {
	t.Parallel()
	cmd, tty, r := runOnPTY(t, `trap 'echo interrupted; exit 130' INT; echo waiting; while true; do sleep 0.05; done`)
	readUntil(t, r, "waiting")
	tty.Write([]byte{3}) // Ctrl-C, delivered by the terminal to its foreground job
	readUntil(t, r, "interrupted")
	if code := waitExit(t, cmd); code != 130 {
		t.Fatalf("exit %d, want 130", code)
	}
}
