package addons

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

	"github.com/redis/go-redis/v9"
)

// testLog collects an add-on's log lines for the test output.
func testLog(t *testing.T, name string) func(string) {
	var mu sync.Mutex
	done := false
	t.Cleanup(func() { mu.Lock(); done = true; mu.Unlock() })
	return func(line string) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf("%s: %s", name, line)
		}
	}
}

func startRedis(t *testing.T, dir string) *Redis {
	t.Helper()
	r := NewRedis(Options{Dir: dir, Log: testLog(t, "redis")})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopRedis(t, r) })
	return r
}

func stopRedis(t *testing.T, r *Redis) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Error(err)
	}
}

func newGoRedis(t *testing.T, rawURL string, opts ...func(*redis.Options)) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	if o.TLSConfig != nil {
		o.TLSConfig.InsecureSkipVerify = true // self-signed, as on Heroku
	}
	for _, f := range opts {
		f(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisAuthTLSAndURLs(t *testing.T) {
	t.Parallel()
	r := startRedis(t, t.TempDir())
	ctx := t.Context()
	env := r.Env()
	if !strings.HasPrefix(env["REDIS_URL"], "redis://:") || !strings.HasPrefix(env["REDIS_TLS_URL"], "rediss://:") {
		t.Fatalf("env = %v", env)
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
	noPass := newGoRedis(t, "redis://"+r.Addr())
	if err := noPass.Get(ctx, "k:REDIS_URL").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Fatalf("without password: err = %v, want NOAUTH", err)
	}
	wrong := newGoRedis(t, "redis://:nope@"+r.Addr())
	if err := wrong.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: err = %v, want WRONGPASS", err)
	}
	// The TLS port speaks only TLS.
	u := env["REDIS_TLS_URL"]
	plainToTLS := newGoRedis(t, "redis"+strings.TrimPrefix(u, "rediss"), func(o *redis.Options) {
		o.DialTimeout, o.ReadTimeout, o.MaxRetries = time.Second, time.Second, -1
	})
	if err := plainToTLS.Ping(ctx).Err(); err == nil {
		t.Fatal("plain text to the TLS port worked")
	}
	// Loopback only.
	if host, _, _ := net.SplitHostPort(r.Addr()); host != "127.0.0.1" {
		t.Fatalf("listening on %s", r.Addr())
	}
}

func TestRedisAttachmentName(t *testing.T) {
	t.Parallel()
	r := NewRedis(Options{Dir: t.TempDir(), As: "cache-store"})
	if r.Name() != "cache-store" || r.Plan() != "heroku-redis" {
		t.Fatalf("name %q plan %q", r.Name(), r.Plan())
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer stopRedis(t, r)
	env := r.Env()
	if env["CACHE_STORE_URL"] == "" || env["CACHE_STORE_TLS_URL"] == "" || env["REDIS_URL"] != "" {
		t.Fatalf("env = %v", env)
	}
	if r.Start(t.Context()) == nil {
		t.Fatal("second Start succeeded")
	}
}

func TestRedisKeysExpireInRealTime(t *testing.T) {
	t.Parallel()
	r := startRedis(t, t.TempDir())
	ctx := t.Context()
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	start := time.Now()
	c.Set(ctx, "short", "v", 300*time.Millisecond)
	c.HSet(ctx, "h", "keep", "1", "drop", "2")
	if err := c.HExpire(ctx, "h", time.Second, "drop").Err(); err != nil {
		t.Fatal(err)
	}
	if c.Exists(ctx, "short").Val() != 1 {
		t.Fatal("key gone at once")
	}
	waitFor(t, 3*time.Second, "key to expire", func() bool { return c.Exists(ctx, "short").Val() == 0 })
	if took := time.Since(start); took < 280*time.Millisecond {
		t.Fatalf("expired after %v, before its 300ms TTL", took)
	}
	waitFor(t, 3*time.Second, "hash field to expire", func() bool { return !c.HExists(ctx, "h", "drop").Val() })
	if !c.HExists(ctx, "h", "keep").Val() {
		t.Fatal("field without TTL expired")
	}
	// TTL counts down in real time too.
	c.Set(ctx, "long", "v", 10*time.Second)
	waitFor(t, 3*time.Second, "TTL to decrease", func() bool { return c.PTTL(ctx, "long").Val() < 9800*time.Millisecond })
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fillRedis writes one key of each type, some with TTLs, in db 0 and 3.
func fillRedis(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	c := newGoRedis(t, url)
	c3 := newGoRedis(t, url, func(o *redis.Options) { o.DB = 3 })
	binary := string([]byte{0, 1, 2, 0xff, 0xfe, '\n'})
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "str", binary, 0)
		p.Set(ctx, "ttl", "x", time.Hour)
		p.RPush(ctx, "list", "a", "b", "a")
		p.SAdd(ctx, "set", "x", "y")
		p.ZAdd(ctx, "zset", redis.Z{Score: 1.0 / 3, Member: "third"}, redis.Z{Score: -2.5e10, Member: "neg"})
		p.HSet(ctx, "hash", "f1", "v1", "f2", "v2")
		p.HExpire(ctx, "hash", time.Hour, "f2")
		p.XAdd(ctx, &redis.XAddArgs{Stream: "stream", ID: "1-1", Values: []string{"a", "1"}})
		p.XAdd(ctx, &redis.XAddArgs{Stream: "stream", ID: "2-0", Values: []string{"b", "2"}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c3.Set(ctx, "in-db3", "3", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

func checkRedis(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	c := newGoRedis(t, url)
	c3 := newGoRedis(t, url, func(o *redis.Options) { o.DB = 3 })
	binary := string([]byte{0, 1, 2, 0xff, 0xfe, '\n'})
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("str", c.Get(ctx, "str").Val() == binary, true)
	ttl := c.TTL(ctx, "ttl").Val()
	check("ttl kept", ttl > 59*time.Minute && ttl <= time.Hour, true)
	check("no ttl", c.TTL(ctx, "str").Val(), time.Duration(-1))
	check("list", c.LRange(ctx, "list", 0, -1).Val(), []string{"a", "b", "a"})
	check("set", c.SMembers(ctx, "set").Val(), []string{"x", "y"})
	z := c.ZRangeWithScores(ctx, "zset", 0, -1).Val()
	check("zset", len(z) == 2 && z[0].Member == "neg" && z[0].Score == -2.5e10 && z[1].Score == 1.0/3, true)
	check("hash", c.HGetAll(ctx, "hash").Val(), map[string]string{"f1": "v1", "f2": "v2"})
	fttl := c.HTTL(ctx, "hash", "f1", "f2").Val()
	check("hash field ttls", len(fttl) == 2 && fttl[0] == -1 && fttl[1] > 3500, true)
	xs := c.XRange(ctx, "stream", "-", "+").Val()
	check("stream", len(xs) == 2 && xs[0].ID == "1-1" && xs[1].Values["b"] == "2", true)
	check("db3", c3.Get(ctx, "in-db3").Val(), "3")
}

func TestRedisDataSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	r := startRedis(t, dir)
	env := r.Env()
	fillRedis(t, ctx, env["REDIS_URL"])
	newGoRedis(t, env["REDIS_URL"]).Set(ctx, "gone-soon", "x", 200*time.Millisecond)
	stopRedis(t, r)
	stopRedis(t, r) // idempotent

	r2 := startRedis(t, dir)
	if got := r2.Env(); got["REDIS_URL"] != env["REDIS_URL"] || got["REDIS_TLS_URL"] != env["REDIS_TLS_URL"] {
		t.Fatalf("URLs changed across a restart:\n%v\n%v", env, got)
	}
	checkRedis(t, ctx, env["REDIS_URL"])
	c := newGoRedis(t, env["REDIS_URL"])
	waitFor(t, 3*time.Second, "restored TTL to run out", func() bool { return c.Exists(ctx, "gone-soon").Val() == 0 })
	if fi, err := os.Stat(filepath.Join(dir, "password")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", fi, err)
	}
}

func TestRedisPortTakenPicksAnother(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := startRedis(t, dir)
	addr := r.Addr()
	stopRedis(t, r)
	// Someone else takes the port; if another process got it first, it is
	// just as taken.
	if ln, err := net.Listen("tcp", addr); err == nil {
		defer ln.Close()
	}
	r2 := startRedis(t, dir)
	if r2.Addr() == addr {
		t.Fatal("same address although taken")
	}
	if err := newGoRedis(t, r2.Env()["REDIS_URL"]).Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestRedisKill9 runs the add-on in a child process, writes through it,
// waits for the periodic snapshot (INFO rdb_changes_since_last_save:0),
// SIGKILLs it and checks a new server on the same directory has the data.
func TestRedisKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	child, url := startAddonChild(t, "redis", dir)
	ctx := t.Context()
	fillRedis(t, ctx, url)
	c := newGoRedis(t, url)
	waitFor(t, 5*time.Second, "periodic snapshot", func() bool {
		return strings.Contains(c.Info(ctx, "persistence").Val(), "rdb_changes_since_last_save:0\r\n")
	})
	c.Close()
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	startRedis(t, dir)
	checkRedis(t, ctx, url)
}

// startAddonChild re-runs the test binary as a helper process that starts
// one add-on on dir and prints its URL (see runAddonChild).
func startAddonChild(t *testing.T, kind, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "DYNOBOX_ADDON_CHILD="+kind, "DYNOBOX_ADDON_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		buf := make([]byte, 0, 4096)
		tmp := make([]byte, 4096)
		for {
			n, err := out.Read(tmp)
			buf = append(buf, tmp[:n]...)
			if i := bytes.Index(buf, []byte("ADDON_URL=")); i >= 0 {
				if j := bytes.IndexByte(buf[i:], '\n'); j >= 0 {
					lines <- string(buf[i+len("ADDON_URL=") : i+j])
					io.Copy(io.Discard, out)
					return
				}
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	select {
	case url, ok := <-lines:
		if !ok {
			t.Fatal("child exited before it was ready")
		}
		return cmd, url
	case <-time.After(30 * time.Second):
		t.Fatal("child not ready after 30s")
	}
	return nil, ""
}

// runAddonChild is the helper process of startAddonChild (run by TestMain).
func runAddonChild(kind string) {
	opts := Options{Dir: os.Getenv("DYNOBOX_ADDON_DIR"), Log: func(l string) { fmt.Fprintln(os.Stderr, l) }}
	var a interface { // the server alone, without Run's stop
		Start(context.Context) error
		Env() map[string]string
	}
	var urlVar string
	switch kind {
	case "redis":
		a, urlVar = NewRedis(opts), "REDIS_URL"
	case "kafka":
		a, urlVar = NewKafka(opts, KafkaConfig{Plaintext: true}), "KAFKA_URL"
	}
	if err := a.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		os.Exit(1)
	}
	fmt.Printf("ADDON_URL=%s\n", a.Env()[urlVar])
	select {} // until SIGKILL
}

func TestRedisConnectCommands(t *testing.T) {
	t.Parallel()
	r := startRedis(t, t.TempDir())
	ctx := t.Context()
	url := r.Env()["REDIS_URL"]
	// go-redis sends HELLO 3 AUTH … SETNAME and CLIENT SETINFO on connect.
	c := newGoRedis(t, url, func(o *redis.Options) { o.ClientName = "web.1" })
	if got := c.ClientGetName(ctx).Val(); got != "web.1" {
		t.Fatalf("CLIENT GETNAME = %q", got)
	}
	id := c.ClientID(ctx).Val()
	list := c.ClientList(ctx).Val()
	if !strings.Contains(list, fmt.Sprintf("id=%d ", id)) || !strings.Contains(list, "name=web.1 ") ||
		!strings.Contains(list, "lib-name=go-redis") || !strings.Contains(list, "resp=3") {
		t.Fatalf("CLIENT LIST = %q", list)
	}
	info := c.Info(ctx).Val()
	for _, want := range []string{"redis_version:" + redisVersion + "\r\n", "# Keyspace", "role:master",
		"maxmemory_policy:noeviction", "connected_clients:"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q", want)
		}
	}
	cfg := c.ConfigGet(ctx, "max*").Val()
	if cfg["maxmemory"] != "0" || cfg["maxmemory-policy"] != "noeviction" {
		t.Errorf("CONFIG GET max* = %v", cfg)
	}
	for _, k := range []string{"save", "appendonly", "databases"} {
		if _, ok := c.ConfigGet(ctx, k).Val()[k]; !ok {
			t.Errorf("CONFIG GET %s missing", k)
		}
	}
	if err := c.ConfigSet(ctx, "notify-keyspace-events", "Ex").Err(); err == nil {
		t.Error("CONFIG SET notify-keyspace-events accepted though not supported")
	}
	cmds, err := c.Command(ctx).Result() // parsed by go-redis' COMMAND reader
	if err != nil || cmds["get"] == nil || !cmds["get"].ReadOnly || cmds["set"].FirstKeyPos != 1 {
		t.Fatalf("COMMAND = %d commands, %v", len(cmds), err)
	}
	if n := c.Do(ctx, "COMMAND", "COUNT").Val(); n != int64(len(cmds)) {
		t.Errorf("COMMAND COUNT = %v, COMMAND has %d", n, len(cmds))
	}
	docs, err := c.Do(ctx, "COMMAND", "DOCS", "set").Result()
	if err != nil || !strings.Contains(fmt.Sprint(docs), "Set the string value of a key") {
		t.Errorf("COMMAND DOCS set = %v, %v", docs, err)
	}
	// Lua scripts call back into the server without a preamble.
	n, err := c.Eval(ctx, "redis.call('SET', KEYS[1], 'x'); return redis.call('STRLEN', KEYS[1])", []string{"lua"}).Int()
	if err != nil || n != 1 {
		t.Fatalf("EVAL = %v, %v", n, err)
	}
	if err := c.Do(ctx, "SELECT", "16").Err(); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("SELECT 16: %v", err)
	}
	pipe := c.TxPipeline()
	incr := pipe.Incr(ctx, "counter")
	pipe.Incr(ctx, "counter")
	if _, err := pipe.Exec(ctx); err != nil || incr.Val() != 1 {
		t.Fatalf("MULTI/EXEC: %v %v", incr.Val(), err)
	}
}

func TestRedisPubSub(t *testing.T) {
	t.Parallel()
	r := startRedis(t, t.TempDir())
	ctx := t.Context()
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	sub := c.Subscribe(ctx, "news")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, "news", "hello").Err(); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil || msg.Payload != "hello" {
		t.Fatalf("message %v, %v", msg, err)
	}
}

// runRealRedisServer starts redis-server on a free loopback port.
func runRealRedisServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(p), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := dialTCP(addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server not up: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dialTCP(addr string) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, 2*time.Second)
}

func TestRedisCorruptSnapshotIsKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dump := filepath.Join(dir, "dump.gob")
	if err := os.WriteFile(dump, []byte("not a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := NewRedis(Options{Dir: dir})
	err := r.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "move it away") {
		t.Fatalf("Start = %v, want a snapshot error", err)
	}
	if b, _ := os.ReadFile(dump); string(b) != "not a snapshot" {
		t.Fatal("the unreadable snapshot was overwritten")
	}
	if err := r.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestRedisStopWithBlockedClient(t *testing.T) {
	t.Parallel()
	r := startRedis(t, t.TempDir())
	ctx := t.Context()
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	go c.BLPop(ctx, 0, "never")
	admin := newGoRedis(t, r.Env()["REDIS_URL"])
	waitFor(t, 5*time.Second, "BLPOP to block", func() bool {
		return strings.Contains(admin.ClientList(ctx).Val(), "cmd=blpop")
	})
	start := time.Now()
	stopRedis(t, r)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Stop took %v with a blocked client", took)
	}
}
