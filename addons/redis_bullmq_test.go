package addons

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bullmqVersion is the BullMQ release the job-queue test installs.
const bullmqVersion = "5.81.5"

// TestRedisBullMQ installs BullMQ from npm into a temporary directory and
// adds and processes 1000 jobs through it: BullMQ's Lua scripts need
// cmsgpack, bit and cjson, and run atomically.
func TestRedisBullMQ(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("npm"); err != nil {
		needed(t, "npm not installed (apt-get install nodejs npm)")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "bullmq@"+bullmqVersion)
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install bullmq@%s: %v\n%s", bullmqVersion, err, out)
	}
	script, err := os.ReadFile(filepath.Join("testdata", "bullmq.js"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bullmq.js"), script, 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRedis(t, t.TempDir())
	run := exec.CommandContext(ctx, "node", "bullmq.js")
	run.Dir = dir
	run.Env = append(os.Environ(), "REDIS_URL="+r.Env()["REDIS_URL"], "JOBS=1000")
	out, err := run.CombinedOutput()
	t.Logf("%s", out)
	if err != nil || !strings.Contains(string(out), "processed 1000 of 1000") {
		t.Fatalf("bullmq: %v\n%s", err, out)
	}
}
