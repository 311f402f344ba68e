package addons

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynobox/dynobox/internal/ports"
	"github.com/redis/go-redis/v9"
)

// redisBackends are the backends the contract tests run against.
var redisBackends = []string{RedisEmbedded, RedisSystem}

// redisQueueBackends are the backends that real clients and job queues
// are tested on: BullMQ (Lua with cmsgpack) and redis-benchmark's default
// run (inline PING) on both.
var redisQueueBackends = []string{RedisSystem, RedisEmbedded}

// redisPromptBackends run the redis-cli prompt and --pipe test (which
// asks OBJECT ENCODING) on both.
var redisPromptBackends = []string{RedisSystem, RedisEmbedded}

func needRedisServer(t testing.TB) redisBinary {
	t.Helper()
	b, err := findRedisServer(context.Background())
	if err != nil {
		needed(t, "no redis-server (apt-get install redis-server): %v", err)
	}
	return b
}

// startRedisOn starts the add-on on dir with the given backend.
func startRedisOn(t *testing.T, dir, backend string, opts ...func(*Redis)) *Redis {
	t.Helper()
	if backend == RedisSystem {
		needRedisServer(t)
	}
	r := NewRedis(Options{Dir: dir, Log: testLog(t, "redis/"+backend)})
	r.want = backend
	for _, f := range opts {
		f(r)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopRedis(t, r) })
	return r
}

// TestRedisBackendContract: both backends hand out the same kind of URLs,
// refuse clients without the password, serve TLS on the TLS port only,
// listen on loopback only, keep URLs and data across a restart and say
// which backend they are.
func TestRedisBackendContract(t *testing.T) {
	t.Parallel()
	needRedisCLI(t)
	for _, backend := range redisBackends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r := startRedisOn(t, dir, backend)
			ctx := t.Context()
			env := r.Env()
			if !strings.HasPrefix(env["REDIS_URL"], "redis://:") || !strings.HasPrefix(env["REDIS_TLS_URL"], "rediss://:") || len(env) != 2 {
				t.Fatalf("env = %v", env)
			}
			if want := "embedded"; backend == RedisSystem {
				if got := r.Backend(); !strings.HasPrefix(got, "redis-server ") {
					t.Errorf("Backend() = %q", got)
				}
			} else if got := r.Backend(); got != want {
				t.Errorf("Backend() = %q, want %q", got, want)
			}
			for _, v := range []string{"REDIS_URL", "REDIS_TLS_URL"} {
				c := newGoRedis(t, env[v])
				if err := c.Set(ctx, "k:"+v, "v", 0).Err(); err != nil {
					t.Fatalf("%s: %v", v, err)
				}
				if got := c.Get(ctx, "k:"+v).Val(); got != "v" {
					t.Fatalf("%s: GET = %q", v, got)
				}
			}
			// redis-cli -u sends AUTH "" PASSWORD for the URL's empty user.
			for _, v := range []string{"REDIS_URL", "REDIS_TLS_URL"} {
				args := []string{"-u", env[v], "--no-auth-warning", "PING"}
				if v == "REDIS_TLS_URL" {
					args = append([]string{"--tls", "--insecure"}, args...)
				}
				if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "PONG" {
					t.Errorf("redis-cli -u $%s PING: %q %v", v, out, err)
				}
			}
			noPass := newGoRedis(t, "redis://"+r.Addr())
			if err := noPass.Get(ctx, "k").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
				t.Fatalf("without password: err = %v, want NOAUTH", err)
			}
			wrong := newGoRedis(t, "redis://:nope@"+r.Addr())
			if err := wrong.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
				t.Fatalf("wrong password: err = %v, want WRONGPASS", err)
			}
			plainToTLS := newGoRedis(t, "redis"+strings.TrimPrefix(env["REDIS_TLS_URL"], "rediss"), func(o *redis.Options) {
				o.DialTimeout, o.ReadTimeout, o.MaxRetries = time.Second, time.Second, -1
			})
			if err := plainToTLS.Ping(ctx).Err(); err == nil {
				t.Fatal("plain text to the TLS port worked")
			}
			if host, _, _ := net.SplitHostPort(r.Addr()); host != "127.0.0.1" {
				t.Fatalf("listening on %s", r.Addr())
			}
			c := newGoRedis(t, env["REDIS_URL"])
			c.RPush(ctx, "list", "a", "b")
			c.Set(ctx, "ttl", "x", time.Hour)
			stopRedis(t, r)
			stopRedis(t, r) // idempotent
			if err := c.Ping(ctx).Err(); err == nil {
				t.Fatal("still answering after Stop")
			}
			r2 := startRedisOn(t, dir, backend)
			if got := r2.Env(); got["REDIS_URL"] != env["REDIS_URL"] || got["REDIS_TLS_URL"] != env["REDIS_TLS_URL"] {
				t.Fatalf("URLs changed across a restart:\n%v\n%v", env, got)
			}
			c2 := newGoRedis(t, env["REDIS_URL"])
			if got := c2.LRange(ctx, "list", 0, -1).Val(); fmt.Sprint(got) != "[a b]" {
				t.Errorf("list after restart = %v", got)
			}
			if ttl := c2.TTL(ctx, "ttl").Val(); ttl < 59*time.Minute {
				t.Errorf("TTL after restart = %v", ttl)
			}
		})
	}
}

// TestRedisBackendChoice: DYNOBOX_REDIS picks the backend; a bad value or
// a missing redis-server under "system" fails with what to do.
func TestRedisBackendChoice(t *testing.T) {
	needRedisServer(t)
	t.Setenv(RedisBackendEnv, "")
	t.Setenv(RedisServerEnv, "")
	r := startRedisOn(t, t.TempDir(), "")
	if !strings.HasPrefix(r.Backend(), "redis-server ") {
		t.Errorf("auto with redis-server installed: Backend() = %q", r.Backend())
	}
	t.Setenv(RedisBackendEnv, "embedded")
	if got := startRedisOn(t, t.TempDir(), "").Backend(); got != RedisEmbedded {
		t.Errorf("DYNOBOX_REDIS=embedded: Backend() = %q", got)
	}
	t.Setenv(RedisBackendEnv, "mini")
	err := NewRedis(Options{Dir: t.TempDir()}).Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), `DYNOBOX_REDIS="mini"`) {
		t.Errorf("DYNOBOX_REDIS=mini: %v", err)
	}
	t.Setenv(RedisBackendEnv, "system")
	t.Setenv(RedisServerEnv, filepath.Join(t.TempDir(), "redis-server"))
	err = NewRedis(Options{Dir: t.TempDir()}).Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "DYNOBOX_REDIS_SERVER=") {
		t.Errorf("DYNOBOX_REDIS=system with a missing binary: %v", err)
	}
}

// TestRedisSystemConfig: redis-server runs with dynobox's own config file
// (0600, in the add-on's directory), AOF fsynced every second, bound to
// loopback in protected mode.
func TestRedisSystemConfig(t *testing.T) {
	t.Parallel()
	bin := needRedisServer(t)
	dir := t.TempDir()
	session := "test-" + randomHex(4)
	r := startRedisOn(t, dir, RedisSystem, func(r *Redis) { r.opts.Session = session })
	ctx := t.Context()
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	// Marked as the session's, so the watchdog and the next start find it;
	// the leader of its own process group.
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", r.system.pid()))
	if err != nil || !bytes.Contains(environ, []byte("\x00DYNOBOX_SESSION="+session+"\x00")) {
		t.Errorf("redis-server's environment lacks DYNOBOX_SESSION=%s (%v)", session, err)
	}
	if pgid, err := syscall.Getpgid(r.system.pid()); err != nil || pgid != r.system.pid() {
		t.Errorf("process group %d, %v; want its own", pgid, err)
	}
	conf := filepath.Join(dir, "server", "redis.conf")
	fi, err := os.Stat(conf)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("redis.conf: %v %v", fi, err)
	}
	want := map[string]string{"appendonly": "yes", "appendfsync": "everysec", "bind": "127.0.0.1",
		"protected-mode": "yes", "dir": filepath.Join(dir, "server"), "databases": "16", "tls-auth-clients": "no"}
	for k, v := range want {
		if got := c.ConfigGet(ctx, k).Val()[k]; got != v {
			t.Errorf("CONFIG GET %s = %q, want %q", k, got, v)
		}
	}
	if info := c.Info(ctx, "server").Val(); !strings.Contains(info, "redis_version:"+bin.version+"\r\n") ||
		!strings.Contains(info, "config_file:"+conf+"\r\n") {
		t.Errorf("INFO server:\n%s", info)
	}
	if !strings.HasPrefix(r.Backend(), "redis-server "+bin.version) {
		t.Errorf("Backend() = %q", r.Backend())
	}
	// What miniredis lacks works here: cmsgpack and bit in Lua, SORT,
	// OBJECT ENCODING, BITFIELD.
	n, err := c.Eval(ctx, "return bit.band(cmsgpack.unpack(cmsgpack.pack(7)), 3)", nil).Int()
	if err != nil || n != 3 {
		t.Errorf("Lua cmsgpack/bit: %v %v", n, err)
	}
	c.RPush(ctx, "nums", 3, 1, 2)
	if got := c.Sort(ctx, "nums", &redis.Sort{}).Val(); fmt.Sprint(got) != "[1 2 3]" {
		t.Errorf("SORT = %v", got)
	}
	c.Set(ctx, "n", "12", 0)
	if got := c.ObjectEncoding(ctx, "n").Val(); got != "int" {
		t.Errorf("OBJECT ENCODING n = %q, want int", got)
	}
	if got, err := c.BitField(ctx, "bf", "SET", "u8", "0", "200", "INCRBY", "u8", "0", "100").Result(); err != nil || fmt.Sprint(got) != "[0 44]" {
		t.Errorf("BITFIELD = %v %v, want [0 44] (u8 wraps)", got, err)
	}
}

// A plain and a TLS port remembered as one port (as two draws can give)
// are told apart at start: redis-server, told to bind one port twice,
// fails on every start with "Address already in use".
func TestRedisSystemPlainAndTLSPortsDiffer(t *testing.T) {
	t.Parallel()
	needRedisServer(t)
	dir := t.TempDir()
	port, err := ports.Pick()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"port", "tls-port"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(strconv.Itoa(port)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := startRedisOn(t, dir, RedisSystem)
	plain, _ := readPort(filepath.Join(dir, "port"))
	tls, _ := readPort(filepath.Join(dir, "tls-port"))
	if plain != port || tls == port || tls <= 0 {
		t.Fatalf("ports after start: plain %d, TLS %d; want plain %d kept and another TLS port", plain, tls, port)
	}
	if err := newGoRedis(t, r.Env()["REDIS_URL"]).Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING over REDIS_URL: %v", err)
	}
}

// streamAndHLL writes a stream with a consumer group holding a pending
// entry, a HyperLogLog and plain keys.
func streamAndHLL(t *testing.T, ctx context.Context, c *redis.Client, n int) {
	t.Helper()
	for i := 0; i < 3; i++ {
		if err := c.XAdd(ctx, &redis.XAddArgs{Stream: "jobs", Values: []string{"n", strconv.Itoa(i)}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.XGroupCreate(ctx, "jobs", "workers", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "workers", Consumer: "w1", Streams: []string{"jobs", ">"}, Count: 1}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.PFAdd(ctx, "visitors", "a", "b", "c", "a").Err(); err != nil {
		t.Fatal(err)
	}
	p := c.Pipeline()
	for i := 0; i < n; i++ {
		p.Set(ctx, "key:"+strconv.Itoa(i), i, 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// checkStreamAndHLL checks what streamAndHLL wrote, and extra keys more.
func checkStreamAndHLL(t *testing.T, ctx context.Context, c *redis.Client, n, extra int) {
	t.Helper()
	groups, err := c.XInfoGroups(ctx, "jobs").Result()
	if err != nil || len(groups) != 1 || groups[0].Name != "workers" || groups[0].Pending != 1 {
		t.Errorf("consumer groups = %+v, %v", groups, err)
	}
	if got := c.PFCount(ctx, "visitors").Val(); got != 3 {
		t.Errorf("PFCOUNT = %d", got)
	}
	if got := c.DBSize(ctx).Val(); got != int64(n+2+extra) {
		t.Errorf("DBSIZE = %d, want %d", got, n+2+extra)
	}
	if got := c.Get(ctx, "key:"+strconv.Itoa(n-1)).Val(); got != strconv.Itoa(n-1) {
		t.Errorf("last key = %q", got)
	}
}

// waitAOFWritten waits until redis-server has written its AOF buffer to
// the file: what a kill -9 of the process cannot lose. With appendfsync
// everysec Redis writes it before replying, except while the previous
// second's fsync is still running, when it holds it back for up to two
// seconds: that is the loss window of a kill -9.
func waitAOFWritten(t *testing.T, ctx context.Context, c *redis.Client) {
	t.Helper()
	waitFor(t, 10*time.Second, "the AOF buffer to be written", func() bool {
		info := c.Info(ctx, "persistence").Val()
		return strings.Contains(info, "aof_buffer_length:0\r\n")
	})
}

// TestRedisSystemCrashRestart: a redis-server killed with -9 is restarted
// by the supervisor — at once the first time, after a growing wait the
// next — and what it had written to its AOF, a consumer group and a
// HyperLogLog included, is there again.
func TestRedisSystemCrashRestart(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var lines []string
	needRedisServer(t)
	r := NewRedis(Options{Dir: t.TempDir(), Log: func(l string) { mu.Lock(); lines = append(lines, l); mu.Unlock() }})
	r.want = RedisSystem
	// The second crash comes after a restart and checks that take longer
	// than redisStableAfter on a loaded machine: it must still count as
	// the second of a row.
	r.stableAfter = time.Hour
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer stopRedis(t, r)
	loggedTimes := func(s string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, l := range lines {
			if strings.Contains(l, s) {
				n++
			}
		}
		return n
	}
	logged := func(s string) bool { return loggedTimes(s) > 0 }
	ctx := t.Context()
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	const n = 5000
	streamAndHLL(t, ctx, c, n)
	for i, want := range []string{"restarting at once", "restarting in 1s"} {
		waitAOFWritten(t, ctx, c)
		pid := r.system.pid()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the log to say "+want, func() bool { return logged(want) })
		// Up again as the supervisor sees it (its own PING answered): a
		// kill before that is a failed start, retried, not a crash. The
		// pid changes and the server answers the test's client earlier.
		waitFor(t, 30*time.Second, "redis-server to be up again", func() bool { return loggedTimes("redis-server is up again") == i+1 })
		if p := r.system.pid(); p == 0 || p == pid {
			t.Fatalf("up again, but pid %d (was %d)", p, pid)
		}
		waitFor(t, 30*time.Second, "redis-server to answer", func() bool { return c.Ping(ctx).Err() == nil })
		checkStreamAndHLL(t, ctx, c, n, i)
		if err := c.Set(ctx, "after-crash-"+strconv.Itoa(i), "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if !logged("exited unexpectedly (signal: killed)") {
		t.Error("the crash is not in the log")
	}
}

// TestRedisSystemSurvivesDynoboxKill9: dynobox (a helper process running
// the add-on) is killed with -9; redis-server gets SIGTERM from the kernel
// (Pdeathsig), flushes its AOF and exits, and the next start has the data.
func TestRedisSystemSurvivesDynoboxKill9(t *testing.T) {
	needRedisServer(t)
	t.Setenv(RedisBackendEnv, RedisSystem)
	dir := t.TempDir()
	child, url := startAddonChild(t, "redis", dir)
	ctx := t.Context()
	c := newGoRedis(t, url)
	const n = 20000
	streamAndHLL(t, ctx, c, n)
	pidData, err := os.ReadFile(filepath.Join(dir, "server", "redis.pid"))
	if err != nil {
		t.Fatal(err)
	}
	serverPid, _ := strconv.Atoi(strings.TrimSpace(string(pidData)))
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	if !pgWaitGone(serverPid, 10*time.Second) {
		t.Fatalf("redis-server (pid %d) outlived the killed dynobox", serverPid)
	}
	startRedisOn(t, dir, RedisSystem)
	checkStreamAndHLL(t, ctx, newGoRedis(t, url), n, 0)
}

// TestRedisSystemLeftoverIsStopped: a redis-server that outlived its
// dynobox (no Pdeathsig) is stopped by the next start, which then serves
// the same data on the same port.
func TestRedisSystemLeftoverIsStopped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := startRedisOn(t, dir, RedisSystem, func(r *Redis) { r.noDeathSig = true })
	url := r.Env()["REDIS_URL"]
	ctx := t.Context()
	newGoRedis(t, url).Set(ctx, "k", "v", 0)
	old := r.system.pid()
	// Forget it without stopping it, as a crashed dynobox would.
	r.mu.Lock()
	p := r.system
	r.system = nil
	r.mu.Unlock()
	p.mu.Lock()
	p.stopping = true
	close(p.stop)
	p.mu.Unlock()
	t.Cleanup(func() { syscall.Kill(old, syscall.SIGKILL) })
	r2 := startRedisOn(t, dir, RedisSystem)
	if !pgWaitGone(old, 5*time.Second) {
		t.Fatal("the leftover redis-server still runs")
	}
	if r2.Env()["REDIS_URL"] != url {
		t.Errorf("URL changed: %s → %s", url, r2.Env()["REDIS_URL"])
	}
	if got := newGoRedis(t, url).Get(ctx, "k").Val(); got != "v" {
		t.Errorf("GET k = %q", got)
	}
}

// TestRedisBackendEphemeral: throwaway data (dynobox run --ephemeral) is
// gone after Stop, on both backends.
func TestRedisBackendEphemeral(t *testing.T) {
	t.Parallel()
	for _, backend := range redisBackends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			if backend == RedisSystem {
				needRedisServer(t)
			}
			dir := filepath.Join(t.TempDir(), "redis")
			r := NewRedis(Options{Dir: dir, Ephemeral: true, Log: testLog(t, "redis/"+backend)})
			r.want = backend
			if err := r.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := newGoRedis(t, r.Env()["REDIS_URL"]).Set(t.Context(), "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			stopRedis(t, r)
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("ephemeral directory left behind: %v", err)
			}
		})
	}
}

// TestRedisSystemCorruptAOF: an append-only file redis-server cannot read
// fails the start with Redis' own advice, and is left as it was.
func TestRedisSystemCorruptAOF(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := startRedisOn(t, dir, RedisSystem)
	newGoRedis(t, r.Env()["REDIS_URL"]).Set(t.Context(), "k", "v", 0)
	stopRedis(t, r)
	incr, err := filepath.Glob(filepath.Join(dir, "server", "appendonlydir", "*.incr.aof"))
	if err != nil || len(incr) != 1 {
		t.Fatalf("AOF files: %v %v", incr, err)
	}
	f, err := os.OpenFile(incr[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("garbage\r\n*3\r\n")
	f.Close()
	before, _ := os.ReadFile(incr[0])
	r2 := NewRedis(Options{Dir: dir, Log: testLog(t, "redis")})
	r2.want = RedisSystem
	err = r2.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "redis-check-aof --fix") {
		t.Fatalf("Start with a corrupt AOF: %v", err)
	}
	if after, _ := os.ReadFile(incr[0]); !bytes.Equal(before, after) {
		t.Error("the AOF was changed")
	}
	if err := r2.Stop(t.Context()); err != nil {
		t.Error(err)
	}
}
