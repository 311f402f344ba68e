package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynobox/dynobox/runner/watch"
)

// What dynos write while they serve and work — an upload per request, a
// file a worker rewrites every 200 ms — never deploys, outside any deploy
// window too; a save of yours meanwhile deploys once.

// The test binary doubles as a web dyno that saves one upload per request
// into $UPLOAD_DIR (see uploadHelper).
func init() {
	if os.Getenv("DYNOBOX_TEST_HELPER") == "upload" {
		uploadHelper()
		os.Exit(0)
	}
}

func uploadHelper() {
	var n atomic.Int64
	http.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		// One open, one write, one close, as a framework saves an upload:
		// over in microseconds.
		dir := r.URL.Query().Get("dir")
		if dir == "" {
			dir = os.Getenv("UPLOAD_DIR")
		}
		name := filepath.Join(dir, fmt.Sprintf("%d.txt", n.Add(1)))
		if err := os.WriteFile(name, []byte("uploaded at "+time.Now().String()), 0o644); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintln(w, "saved", name)
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
}

// releaseCount is how many releases `dynobox releases --json` lists.
func releaseCount(t *testing.T, dir string) int {
	t.Helper()
	out, stderr, code := runDynobox(t, dir, "releases", "--json")
	if code != 0 {
		t.Fatalf("releases: exit %d %s", code, stderr)
	}
	var rels []json.RawMessage
	if err := json.Unmarshal([]byte(out), &rels); err != nil {
		t.Fatalf("releases --json: %v\n%s", err, out)
	}
	return len(rels)
}

// onlyChanged fails unless every deploy the watcher started was for want.
func onlyChanged(t *testing.T, out, want string) {
	t.Helper()
	for _, m := range changedLine.FindAllStringSubmatch(out, -1) {
		if m[1] != want {
			t.Fatalf("a deploy started for %q, not for the save of %s:\n%s", m[1], want, out)
		}
	}
}

// A web dyno that saves an upload per request, hit 20 times long after
// the start: no deploy, the releases unchanged; then a save deploys once.
func TestUploadsServedByAWebDynoNeverDeploy(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Where the uploads go. With privilege, fanotify names the writer, so
	// any directory will do; without, a one-write upload is too quick to
	// be seen open, and the upload directories Rails and friends use hold
	// no code (watch.RuntimeDirs).
	uploads := "saved"
	if !canAdmin() {
		uploads = watch.RuntimeDirs[0]
	}
	dir := writeApp(t, map[string]string{
		"Procfile":           "web: DYNOBOX_TEST_HELPER=upload UPLOAD_DIR=" + uploads + " exec " + exe + "\n",
		"a.txt":              "0",
		uploads + "/.keep":   "",
		"public/index.html":  "hi",
		"lib/code/source.rb": "# code",
	})
	port := freePort(t)
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port), "--no-watch=false", "--build", "echo compiling")
	p.waitOutput("Watching " + dir)
	p.waitOutput("State changed from starting to up")
	releases, deploys := releaseCount(t, dir), deploysIn(p.out.String())

	for i := 1; i <= 20; i++ {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/upload", port))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("upload %d: status %d", i, resp.StatusCode)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, uploads, "20.txt")); err != nil {
		t.Fatalf("the 20th upload was not saved: %v", err)
	}

	// A save after the uploads: a deploy for a batch of uploads would come
	// first, or in one batch with it.
	writeFile(t, filepath.Join(dir, "a.txt"), "yours")
	waitFor(t, "the deploy of a save", func() bool { return deploysIn(p.out.String()) > deploys })
	onlyChanged(t, p.out.String(), "a.txt")
	if n := releaseCount(t, dir); n != releases+1 {
		t.Fatalf("20 uploads and 1 save made %d releases, want 1:\n%s", n-releases, p.out)
	}
	stopApp(t, p)
}

// A worker that rewrites a file every 200 ms for 10 s: no deploy; a save
// of yours during it: exactly one.
func TestWorkerRewritingAFileNeverDeploys(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		// The ticks show how long it has been writing.
		"Procfile": "worker: while :; do date +%s%N > state.txt; echo >> ticks; sleep 0.2; done\n",
		"a.txt":    "0",
	})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--no-watch=false", "--build", "echo compiling")
	p.waitOutput("Watching " + dir)
	releases, deploys := releaseCount(t, dir), deploysIn(p.out.String())
	ticks := func() int {
		data, _ := os.ReadFile(filepath.Join(dir, "ticks"))
		return strings.Count(string(data), "\n")
	}
	waitTicks := func(n int) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for ticks() < n {
			if time.Now().After(deadline) {
				t.Fatalf("the worker wrote %d times in a minute, want %d", ticks(), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	start := ticks()
	waitTicks(start + 25) // 5 s of writes
	writeFile(t, filepath.Join(dir, "a.txt"), "yours")
	waitFor(t, "the deploy of the save", func() bool { return deploysIn(p.out.String()) > deploys })
	waitTicks(start + 50) // 10 s in all; the deploy's restart does not reset ticks
	// Three seconds more of writes: longer than the watcher's longest wait
	// for a batch (2 s).
	waitTicks(start + 65)
	onlyChanged(t, p.out.String(), "a.txt")
	if n := deploysIn(p.out.String()) - deploys; n != 1 {
		t.Fatalf("10 s of a worker's writes and 1 save made %d deploys, want 1:\n%s", n, p.out)
	}
	if n := releaseCount(t, dir); n != releases+1 {
		t.Fatalf("10 s of a worker's writes and 1 save made %d releases, want 1:\n%s", n-releases, p.out)
	}
	stopApp(t, p)
}

// canAdmin: this process has CAP_SYS_ADMIN (bit 21 of CapEff), which
// fanotify wants before it names writers; root in a container may lack it.
func canAdmin() bool {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<21) != 0
		}
	}
	return false
}
