package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRunFailsWhenAnAddonsFinalSaveFails: a `dynobox run` whose add-ons it
// started itself exits 1 and says so when one cannot save its last writes
// (Redis on a full disk, here a 8 MB tmpfs as the state directory, so it
// needs root), even though the command succeeded: its writes are lost.
func TestRunFailsWhenAnAddonsFinalSaveFails(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must run this test: a small full disk (a tmpfs mount) needs root")
		}
		t.Skip("a small full disk (a tmpfs mount) needs root")
	}
	dir := writeApp(t, map[string]string{"app.json": `{"addons": ["heroku-redis:mini"]}`})
	stateDir := filepath.Join(dir, ".dynobox")
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", stateDir, "tmpfs", 0, "size=8m,mode=0700"); err != nil {
		t.Fatalf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { // after runDynobox: nothing uses it any more
		if err := syscall.Unmount(stateDir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", stateDir, err)
		}
	})
	// One write, then the disk fills, then writes until Redis refuses
	// them (MISCONF): the last ones are not on disk.
	script := `set -e
cli() { redis-cli -u "$REDIS_URL" --no-auth-warning "$@"; }
cli SET before 1 >/dev/null
dd if=/dev/zero of=.dynobox/fill bs=64k 2>/dev/null || true
big=$(printf '%4096s' | tr ' ' x)
until cli SET big "$big" | grep -q MISCONF; do :; done
echo command done`
	stdout, stderr, code := runDynobox(t, dir, "run", script)
	if code != 1 || stdout != "command done\n" || !strings.Contains(stderr, "final save failed") {
		t.Fatalf("run with a failed final save: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}
