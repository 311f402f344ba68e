// Command deploybench measures save-to-serving latency of the demo app
// (example/) under dynobox and under air, in one run: the time from
// writing an edited handler until the app's URL serves the new response,
// with a bounded load loop running meanwhile that counts failed requests.
// The same go build commands are timed on their own, so that the overhead
// beyond the build itself can be reported. See bench/deploy.sh.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/internal/ports"
)

var (
	dynoboxBin = flag.String("dynobox", "", "the dynobox binary")
	airBin     = flag.String("air", "", "the air binary (empty: dynobox only)")
	example    = flag.String("example", "example", "the demo app to copy")
	workDir    = flag.String("work", "", "where to put the app copies (default: a temp dir)")
	trials     = flag.Int("trials", 5, "edits per tool")
	clients    = flag.Int("clients", 2, "load loop clients per tool")
	pause      = flag.Duration("pause", 2*time.Millisecond, "pause between one client's requests")
	airDelay   = flag.Int("air-delay", 150, "air's build.delay in ms (its debounce; ours is 150 ms)")
)

// The handler's greeting, which each trial changes.
const greeting = `"Hello from %s, request`

func main() {
	flag.Parse()
	if *dynoboxBin == "" {
		fail(errors.New("-dynobox is required"))
	}
	work := *workDir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "deploybench"); err != nil {
			fail(err)
		}
		defer os.RemoveAll(work)
	}
	tools := []*tool{{name: "dynobox"}}
	if *airBin != "" {
		tools = append(tools, &tool{name: "air"})
	}
	for _, t := range tools {
		t.dir = filepath.Join(work, t.name)
		must(copyApp(*example, t.dir))
		t.port = freePort()
		t.url = fmt.Sprintf("http://127.0.0.1:%d/", t.port)
		must(t.start(work))
		started = append(started, t)
	}
	defer stopAll()
	for _, t := range tools {
		log("waiting for %s to serve %s", t.name, t.url)
		if _, err := waitFor(t.url, "Hello from", 5*time.Minute); err != nil {
			t.dumpLog()
			fail(fmt.Errorf("%s: %w", t.name, err))
		}
	}
	time.Sleep(2 * time.Second)

	for i := 1; i <= *trials; i++ {
		for _, t := range tools {
			r, err := t.trial(i)
			if err != nil {
				t.dumpLog()
				fail(fmt.Errorf("%s trial %d: %w", t.name, i, err))
			}
			log("%-7s trial %d: save-to-serving %v (go build %v), %d of %d requests failed", t.name, i, r.latency.Round(time.Millisecond), r.build.Round(time.Millisecond), r.failed, r.failed+r.ok)
			t.results = append(t.results, r)
		}
	}

	fmt.Printf("\n| tool | save-to-serving (median) | max | its go build (median) | overhead beyond the build (median) | max | failed requests |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, t := range tools {
		var lat, builds, over []time.Duration
		var ok, failed int64
		stale := 0
		for _, r := range t.results {
			ok += r.ok
			failed += r.failed
			if r.stale {
				stale++
				continue
			}
			lat = append(lat, r.latency)
			builds = append(builds, r.build)
			over = append(over, r.latency-r.build)
		}
		note := ""
		if stale > 0 {
			note = fmt.Sprintf("; %d of %d edits never served", stale, len(t.results))
		}
		fmt.Printf("| %s | %v | %v | %v | %v | %v | %d of %d%s |\n", t.name, ms(median(lat)), ms(maxOf(lat)), ms(median(builds)), ms(median(over)), ms(maxOf(over)), failed, ok+failed, note)
	}
	fmt.Printf("\n%d trials per tool, %d load clients each pausing %v between requests; air build.delay %d ms.\n", *trials, *clients, *pause, *airDelay)
	fmt.Println("The go build time is measured in each trial: from dynobox's log lines around its go build step, and for air by timestamps its build command writes.")
}

type tool struct {
	name, dir, url, logFile string
	port                    int
	cmd                     *exec.Cmd
	results                 []result
}

type result struct {
	latency    time.Duration // from the save until the new response
	build      time.Duration // the go build within it
	ok, failed int64
	stale      bool // the new version never served
}

// start runs the demo under dynobox start, or under air inside a dynobox
// one-off dyno (which starts the add-ons and hands air their config vars).
func (t *tool) start(work string) error {
	t.logFile = filepath.Join(work, t.name+".log")
	out, err := os.Create(t.logFile)
	if err != nil {
		return err
	}
	switch t.name {
	case "dynobox":
		t.cmd = exec.Command(*dynoboxBin, "start", "-C", t.dir, "-p", fmt.Sprint(t.port), "--dashboard", "off", "--log-format", "logplex")
	case "air":
		conf := fmt.Sprintf(`root = "."
tmp_dir = "tmp"
[build]
cmd = "date +%%s%%N >> tmp/build.times && go build -o ./tmp/web ./web && date +%%s%%N >> tmp/build.times"
bin = "./tmp/web"
full_bin = "PORT=%d ./tmp/web"
include_ext = ["go"]
exclude_dir = ["tmp", "bin", ".dynobox"]
delay = %d
`, t.port, *airDelay)
		if err := os.WriteFile(filepath.Join(t.dir, ".air.toml"), []byte(conf), 0o644); err != nil {
			return err
		}
		t.cmd = exec.Command(*dynoboxBin, "run", "-C", t.dir, "--", "sh", "-c", "go run ./migrate && exec "+*airBin+" -c .air.toml")
	}
	t.cmd.Stdout, t.cmd.Stderr = out, out
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log("starting %s: %s", t.name, strings.Join(t.cmd.Args, " "))
	return t.cmd.Start()
}

func (t *tool) stop() {
	if t.cmd == nil || t.cmd.Process == nil {
		return
	}
	t.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { t.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func (t *tool) dumpLog() {
	b, _ := os.ReadFile(t.logFile)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	fmt.Fprintf(os.Stderr, "--- %s log (end) ---\n%s\n", t.name, b)
}

// trial edits the handler under load and waits for the new response.
func (t *tool) trial(i int) (result, error) {
	var r result
	marker := fmt.Sprintf("%s %d", t.name, i)
	ctx, stop := context.WithCancel(context.Background())
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for ctx.Err() == nil {
				resp, err := client.Get(t.url)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
				time.Sleep(*pause)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	saved := time.Now()
	if err := edit(t.dir, marker); err != nil {
		stop()
		return r, err
	}
	served, err := waitFor(t.url, "Hello ("+marker+") from", time.Minute)
	if err != nil && t.name == "air" {
		// air started the new process while the old one still held the
		// port (it does not wait for it to exit): the edit never serves.
		log("air trial %d: %v", i, err)
		stop()
		wg.Wait()
		r.ok, r.failed, r.stale = ok.Load(), failed.Load(), true
		return r, nil
	}
	if err != nil {
		stop()
		return r, err
	}
	r.latency = served.Sub(saved)
	time.Sleep(3 * time.Second) // the old process stops meanwhile
	stop()
	wg.Wait()
	r.ok, r.failed = ok.Load(), failed.Load()
	if t.name == "dynobox" {
		r.build, err = lastGoBuild(t.logFile)
	} else {
		r.build, err = lastTimes(filepath.Join(t.dir, "tmp", "build.times"))
	}
	return r, err
}

// lastGoBuild is how long dynobox's last go build step took, from its
// Logplex lines: "-----> Running: go build" to the first "       bin/NAME"
// line after it (which also covers copying the binaries into bin/).
func lastGoBuild(logFile string) (time.Duration, error) {
	b, err := os.ReadFile(logFile)
	if err != nil {
		return 0, err
	}
	var start, end time.Time
	for _, line := range strings.Split(string(b), "\n") {
		stamp, rest, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(rest, "app[build]: ") {
			continue
		}
		at, err := time.Parse("2006-01-02T15:04:05.000000-07:00", stamp)
		if err != nil {
			continue
		}
		text := strings.TrimPrefix(rest, "app[build]: ")
		switch {
		case strings.HasPrefix(text, "-----> Running: go build"):
			start, end = at, time.Time{}
		case strings.HasPrefix(text, "       bin/") && end.IsZero() && !start.IsZero():
			end = at
		}
	}
	if start.IsZero() || end.IsZero() {
		return 0, fmt.Errorf("%s: no go build step found", logFile)
	}
	return end.Sub(start), nil
}

// lastTimes is the difference of the last two nanosecond timestamps in
// path (air's build command writes one before and one after go build).
func lastTimes(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("%s: fewer than two timestamps", path)
	}
	var a, z int64
	if _, err := fmt.Sscan(f[len(f)-2], &a); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(f[len(f)-1], &z); err != nil {
		return 0, err
	}
	return time.Duration(z - a), nil
}

// edit rewrites the demo's greeting to carry marker, as an editor's save.
func edit(dir, marker string) error {
	path := filepath.Join(dir, "web", "main.go")
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i := bytes.Index(src, []byte(`"Hello `))
	j := bytes.Index(src, []byte(` from %s, request`))
	if i < 0 || j < i {
		return fmt.Errorf("%s: no greeting %s to edit", path, greeting)
	}
	next := slices.Concat(src[:i], []byte(`"Hello (`+marker+`)`), src[j:])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, next, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path) // as most editors save
}

// waitFor polls url every 5 ms until its body contains want and returns
// when it did.
func waitFor(url, want string, within time.Duration) (time.Time, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), want) {
				return time.Now(), nil
			}
			last = string(b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("%s did not serve %q within %v (last: %q)", url, want, within, last)
}

func copyApp(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() && (rel == "bin" || rel == ".dynobox" || rel == "tmp") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
}

func freePort() int {
	port, err := ports.Pick()
	must(err)
	return port
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func maxOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "deploybench: "+format+"\n", args...)
}

func must(err error) {
	if err != nil {
		fail(err)
	}
}

// started are the tools to stop on the way out, however it goes.
var started []*tool

func stopAll() {
	for _, t := range started {
		t.stop()
	}
	started = nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "deploybench:", err)
	stopAll()
	os.Exit(1)
}
