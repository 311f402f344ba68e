package addons

// Real clients on both backends: redis-cli --pipe and its prompt,
// redis-benchmark's default run, BullMQ.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRedisCLIPipeAndPrompt: redis-cli --pipe mass insertion, and
// redis-cli at an interactive prompt on a terminal, over TLS.
func TestRedisCLIPipeAndPrompt(t *testing.T) {
	t.Parallel()
	needRedisCLI(t)
	for _, backend := range redisPromptBackends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testRedisCLIPipeAndPrompt(t, startRedisOn(t, t.TempDir(), backend))
		})
	}
}

func testRedisCLIPipeAndPrompt(t *testing.T, r *Redis) {
	env := r.Env()
	// --pipe: 10,000 SETs in the protocol, one write.
	var in bytes.Buffer
	const n = 10000
	for i := 0; i < n; i++ {
		k, v := "pipe:"+strconv.Itoa(i), strconv.Itoa(i)
		fmt.Fprintf(&in, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(v), v)
	}
	cmd, err := RedisCLI(t.Context(), env, "", "--pipe")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("errors: 0, replies: %d", n)) {
		t.Fatalf("redis-cli --pipe: %v\n%s", err, out)
	}
	if got := newGoRedis(t, env["REDIS_URL"]).DBSize(t.Context()).Val(); got != n {
		t.Fatalf("DBSIZE after --pipe = %d", got)
	}

	cmd, err = RedisCLI(t.Context(), env, "REDIS_TLS_URL")
	if err != nil {
		t.Fatal(err)
	}
	u := env["REDIS_TLS_URL"]
	typeAtRedisCLIPrompt(t, cmd, u[strings.LastIndex(u, "@")+1:]+"> ", []cliStep{
		{"SET greeting", "[NX|XX]"}, // the hint
		{" hello\r", "OK"},
		{"GET greeting\r", `"hello"`},
		{"OBJECT ENCODING greeting\r", `"embstr"`},
		{"GET pipe:9999\r", `"9999"`},
	})
}

// TestRedisBenchmarkDefaultRun: redis-benchmark's default run (inline
// PING included) completes against the add-on.
func TestRedisBenchmarkDefaultRun(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		needed(t, "redis-benchmark not installed (apt-get install redis-tools)")
	}
	for _, backend := range redisQueueBackends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			r := startRedisOn(t, t.TempDir(), backend)
			host, port, _ := net.SplitHostPort(r.Addr())
			u, _ := url.Parse(r.Env()["REDIS_URL"])
			password, _ := u.User.Password()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, "redis-benchmark", "-h", host, "-p", port, "-a", password,
				"-q", "-n", "2000").CombinedOutput()
			if err != nil {
				t.Fatalf("redis-benchmark: %v\n%s", err, out)
			}
			for _, test := range []string{"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP",
				"SADD", "HSET", "SPOP", "ZADD", "ZPOPMIN", "LRANGE_100 (first 100 elements)", "LRANGE_600 (first 600 elements)", "MSET (10 keys)"} {
				if !regexp.MustCompile(regexp.QuoteMeta(test) + `: [0-9.]+ requests per second`).MatchString(string(out)) {
					t.Errorf("no result for %s:\n%s", test, out)
				}
			}
			if strings.Contains(string(out), "ERR") || strings.Contains(string(out), "NOAUTH") {
				t.Errorf("redis-benchmark saw errors:\n%s", out)
			}
		})
	}
}

// The BullMQ and ioredis releases TestRedisBullMQ installs from npm.
const (
	bullmqVersion  = "6.7.6"
	ioredisVersion = "5.11.1"
)

// TestRedisBullMQ: BullMQ, the job queue Node apps on Heroku use, adds and
// processes 1000 jobs (queue.add runs Lua scripts that need cmsgpack).
func TestRedisBullMQ(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			needed(t, "%s not installed (apt-get install nodejs npm)", tool)
		}
	}
	for _, backend := range redisQueueBackends {
		t.Run(backend, func(t *testing.T) {
			r := startRedisOn(t, t.TempDir(), backend)
			dir := t.TempDir()
			script, err := os.ReadFile(filepath.Join("testdata", "bullmq.js"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "bullmq.js"), script, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"private": true}`), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
			defer cancel()
			install := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--no-save",
				"bullmq@"+bullmqVersion, "ioredis@"+ioredisVersion)
			install.Dir = dir
			if out, err := install.CombinedOutput(); err != nil {
				t.Fatalf("npm install: %v\n%s", err, out)
			}
			run := exec.CommandContext(ctx, "node", "bullmq.js")
			run.Dir = dir
			run.Env = append(os.Environ(), "REDIS_URL="+r.Env()["REDIS_URL"], "JOBS=1000")
			out, err := run.CombinedOutput()
			if err != nil {
				t.Fatalf("node bullmq.js: %v\n%s", err, out)
			}
			var res struct {
				Added, Processed, Wrong int
				Counts                  map[string]int
				MS                      int
			}
			if err := json.Unmarshal(bytes.TrimSpace(out), &res); err != nil {
				t.Fatalf("output %q: %v", out, err)
			}
			if res.Added != 1000 || res.Processed != 1000 || res.Wrong != 0 || res.Counts["completed"] != 1000 || res.Counts["failed"] != 0 {
				t.Fatalf("BullMQ: %+v", res)
			}
			t.Logf("BullMQ %s: 1000 jobs added and processed in %d ms", bullmqVersion, res.MS)
		})
	}
}
