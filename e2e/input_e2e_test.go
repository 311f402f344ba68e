package e2e

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Bad flags are usage errors (exit 2) naming the flag, before anything
// starts — not "port in use" or a dashboard failing after the dynos ran.
func TestBadAddressFlagsAreUsageErrors(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"Procfile": "worker: echo started; exec sleep 1000\n"})
	port := strconv.Itoa(freePort(t))
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"start", "--bind", "999.1.1.1", "-p", port}, "--bind 999.1.1.1: not an IP address"},
		{[]string{"start", "-p", "-1"}, `flag -p: "-1" is not a port number (1-65535)`},
		{[]string{"start", "-p", "99999"}, `flag -p: "99999" is not a port number (1-65535)`},
		{[]string{"start", "--port", "0"}, `flag -port: "0" is not a port number`},
		{[]string{"check", "-p", "99999"}, `flag -p: "99999" is not a port number`},
		{[]string{"start", "-p", port, "--dashboard", "not-an-address"}, "--dashboard not-an-address: use HOST:PORT"},
		{[]string{"start", "-p", port, "--dashboard", "127.0.0.1:70000"}, "--dashboard 127.0.0.1:70000: use HOST:PORT"},
	} {
		out, stderr, code := runDynobox(t, dir, tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) || strings.Contains(out, "started") {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 2 and %q", tt.args, code, stderr, out, tt.want)
		}
	}
}

// check refuses what no process can be started with, naming file and line.
func TestCheckRefusesUnrunnableInput(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "worker: exec sleep 1000\n",
		".env":     "A=1\nB=x\x00y\nC=" + strings.Repeat("v", 128<<10) + "\n",
		"app.json": `{"formation": {"worker": {"quantity": 5000}}}`,
	})
	_, stderr, code := runDynobox(t, dir, "check")
	for _, want := range []string{".env:2:4: NUL byte", "app.json:1:", "at most 100 dynos"} {
		if code != 2 || !strings.Contains(stderr, want) {
			t.Errorf("check: exit %d, stderr %q, want exit 2 and %q", code, stderr, want)
		}
	}
	writeFile(t, dir+"/.env", "A=1\nC="+strings.Repeat("v", 128<<10)+"\n")
	_, stderr, code = runDynobox(t, dir, "check", "-f", "/dev/zero")
	if code != 2 || !strings.Contains(stderr, "/dev/zero: larger than") || !strings.Contains(stderr, ".env:2: the value of C is 128 KiB long") {
		t.Errorf("check -f /dev/zero: exit %d, stderr %q", code, stderr)
	}
}

// ps:scale of the 700th type: its ports would pass 65535. A clear error,
// and dynobox still stops on SIGTERM.
func TestScaleWithoutAPortFailsClearly(t *testing.T) {
	t.Parallel()
	var pf strings.Builder
	for i := range 700 {
		pf.WriteString("t" + strconv.Itoa(i) + ": exec sleep 1000\n")
	}
	p, _, verb := runningApp(t, map[string]string{"Procfile": pf.String()}, "t0=1")
	_, stderr, code := verb("ps:scale", "t699=1")
	if code != 1 || !strings.Contains(stderr, "no free port for t699.1 between") {
		t.Fatalf("ps:scale: exit %d, stderr %q", code, stderr)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("dynobox exit %d after SIGTERM\n%s", code, p.err)
	}
}
