package e2e

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// start --no-watch serves only explicit releases (dynobox deploy, git
// push): a start after the first runs the current release as it is.
func TestNoWatchStartRunsTheCurrentReleaseWithoutBuilding(t *testing.T) {
	t.Parallel()
	dir := gitApp(t, "v1")
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	args := []string{"start", "-p", strconv.Itoa(port), "--boot-timeout", "120", "--no-watch"}
	p := startDynobox(t, dir, args...)
	waitPrefix(t, p, url, "v1 ") // a new app: its first start builds it
	stopApp(t, p)

	writeFile(t, filepath.Join(dir, "main.go"), pushAppSource("v2-saved"))
	p = startDynobox(t, dir, args...)
	waitPrefix(t, p, url, "v1 ")
	if !p.hasOutput("--no-watch builds no work tree at start") || strings.Contains(p.out.String(), "Build b2") {
		t.Fatalf("the second --no-watch start built the work tree:\n%s", p.out)
	}
	// An explicit deploy makes the release.
	if out, stderr, code := runDynobox(t, dir, "deploy"); code != 0 {
		t.Fatalf("deploy: exit %d\n%s%s", code, out, stderr)
	}
	waitPrefix(t, p, url, "v2-saved ")
	stopApp(t, p)
}
