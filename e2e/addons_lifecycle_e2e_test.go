package e2e

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dynobox/dynobox/internal/testutil"
)

// An add-on attached with addons:create is the app's from then on: the
// next start provisions it again, with the data it had.
func TestCreatedAddonComesBackWithItsData(t *testing.T) {
	t.Parallel()
	p, dir, verb := runningApp(t, map[string]string{
		"Procfile": "worker: echo \"cache=[${CACHE_URL%%://*}]\"; exec sleep 1000\n",
	})
	p.waitOutput("| cache=[]\n")
	if out, stderr, code := verb("addons:create", "heroku-redis", "--as", "CACHE"); code != 0 {
		t.Fatalf("addons:create: exit %d %s %s", code, out, stderr)
	}
	p.waitOutput("| cache=[redis]\n")
	if out, stderr, code := verb("redis:cli", "cache", "SET", "visits", "41"); code != 0 || out != "OK\n" {
		t.Fatalf("redis:cli SET: exit %d %q %s", code, out, stderr)
	}
	stopApp(t, p)

	p2 := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)))
	p2.waitOutput("| cache=[redis]\n")
	p2.waitAPI(dir)
	if out, stderr, code := runDynobox(t, dir, "redis:cli", "cache", "INCR", "visits"); code != 0 || out != "42\n" {
		t.Fatalf("after a restart the add-on lost its data: exit %d %q %s\n%s", code, out, stderr, p2.out)
	}
	stopApp(t, p2)
}

// An add-on that app.json declares is destroyed by removing it from
// app.json, not by addons:destroy — running or not.
func TestDestroyOfAppJSONAddonIsRefused(t *testing.T) {
	t.Parallel()
	p, dir, verb := runningApp(t, map[string]string{
		"app.json": `{"addons": ["heroku-redis"]}`,
		"Procfile": "worker: exec sleep 1000\n",
	})
	listing, _, _ := verb("addons")
	name := ""
	for _, f := range strings.Fields(listing) {
		if strings.HasPrefix(f, "heroku-redis") || strings.HasPrefix(f, "redis-") {
			name = f
			break
		}
	}
	if name == "" {
		t.Fatalf("no redis add-on in:\n%s", listing)
	}
	check := func(when string) {
		t.Helper()
		_, stderr, code := runDynobox(t, dir, "addons:destroy", name, "--confirm", name)
		if code != 2 || !strings.Contains(stderr, "declared in app.json") {
			t.Errorf("%s: addons:destroy %s: exit %d %q, want 2 and a pointer to app.json", when, name, code, stderr)
		}
	}
	check("running")
	if out, _, _ := verb("addons"); !strings.Contains(out, name) {
		t.Errorf("the add-on is gone after a refused destroy:\n%s", out)
	}
	stopApp(t, p)
	check("stopped")
}

// kafka:topics:tail prints what is written from now on, not what was
// written before it started.
func TestKafkaTopicsTail(t *testing.T) {
	t.Parallel()
	p, dir, verb := runningApp(t, map[string]string{
		"app.json": `{"addons": ["heroku-kafka"]}`,
		"Procfile": "worker: exec sleep 1000\n",
	})
	if _, stderr, code := verb("kafka:topics:create", "events"); code != 0 {
		t.Fatalf("kafka:topics:create: %s", stderr)
	}
	if _, stderr, code := verb("kafka:topics:write", "events", "written-before-the-tail"); code != 0 {
		t.Fatalf("kafka:topics:write: %s", stderr)
	}
	tail := exec.Command(dynoboxBin, "kafka:topics:tail", "events")
	tail.Dir = dir
	var out testutil.Buffer
	tail.Stdout, tail.Stderr = &out, &out
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { tail.Process.Kill(); tail.Wait() }()
	// The tail prints nothing until it knows where the topic ends: write
	// until a message shows.
	n := 0
	waitFor(t, "a message in the tail", func() bool {
		if strings.Contains(out.String(), "written-after-") {
			return true
		}
		n++
		if _, stderr, code := verb("kafka:topics:write", "events", "written-after-"+strconv.Itoa(n)); code != 0 {
			t.Fatalf("kafka:topics:write: %s", stderr)
		}
		return false
	})
	if got := out.String(); strings.Contains(got, "written-before-the-tail") || !regexp.MustCompile(`(?m)^events \d+ \d+ \d+ written-after-\d+$`).MatchString(got) {
		t.Fatalf("kafka:topics:tail printed:\n%s", got)
	}
	stopApp(t, p)
}
