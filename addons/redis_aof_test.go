package addons

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// fillQueues writes what job queues keep: a stream with a consumer group
// and pending entries, a HyperLogLog, server-chosen stream IDs inside a
// script and a transaction, and a popped set.
func fillQueues(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	c := newGoRedis(t, url)
	for i := range 5 {
		if err := c.XAdd(ctx, &redis.XAddArgs{Stream: "jobs", ID: fmt.Sprintf("%d-0", i+1), Values: []string{"n", fmt.Sprint(i)}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.XGroupCreate(ctx, "jobs", "workers", "0").Err(); err != nil {
		t.Fatal(err)
	}
	got, err := c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "workers", Consumer: "w1", Streams: []string{"jobs", ">"}, Count: 3}).Result()
	if err != nil || len(got[0].Messages) != 3 {
		t.Fatalf("XREADGROUP: %v %v", got, err)
	}
	if err := c.XAck(ctx, "jobs", "workers", "1-0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.PFAdd(ctx, "visitors", "a", "b", "c", "d", "a").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Eval(ctx, "redis.call('XADD', KEYS[1], '*', 'by', 'script') redis.call('SADD', 'pool', 'x', 'y', 'z') return redis.call('SPOP', 'pool')", []string{"events"}).Err(); err != nil {
		t.Fatal(err)
	}
	_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{Stream: "events", Values: []string{"by", "multi"}})
		p.Set(ctx, "ttl-rel", "v", time.Hour)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// queueState is what checkQueues compares across a restart.
func queueState(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	c := newGoRedis(t, url)
	groups, err := c.XInfoGroups(ctx, "jobs").Result()
	if err != nil || len(groups) != 1 {
		t.Fatalf("XINFO GROUPS: %v %v", groups, err)
	}
	pending, err := c.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: "jobs", Group: "workers", Start: "-", End: "+", Count: 10}).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range pending {
		ids = append(ids, p.ID+"@"+p.Consumer)
	}
	events := c.XRange(ctx, "events", "-", "+").Val()
	var evIDs []string
	for _, e := range events {
		evIDs = append(evIDs, e.ID+"="+fmt.Sprint(e.Values["by"]))
	}
	ttl := c.TTL(ctx, "ttl-rel").Val()
	return fmt.Sprintf("group %s last %s pending %v; hll %d; events %v; pool %d; ttl ok %v",
		groups[0].Name, groups[0].LastDeliveredID, ids, c.PFCount(ctx, "visitors").Val(), evIDs,
		c.SCard(ctx, "pool").Val(), ttl > 50*time.Minute && ttl <= time.Hour)
}

// TestRedisAOFKill9 kills the add-on's process once the log is fsynced
// and wants everything, consumer group and HyperLogLog included, back.
func TestRedisAOFKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	child, url := startAddonChild(t, "redis", dir)
	ctx := t.Context()
	fillRedis(t, ctx, url)
	fillQueues(t, ctx, url)
	before := queueState(t, ctx, url)
	want := "group workers last 3-0 pending [2-0@w1 3-0@w1]; hll 4;"
	if !strings.HasPrefix(before, want) || !strings.HasSuffix(before, "pool 2; ttl ok true") {
		t.Fatalf("before the crash: %s", before)
	}
	c := newGoRedis(t, url)
	waitFor(t, 5*time.Second, "the log to be fsynced", func() bool {
		return strings.Contains(c.Info(ctx, "persistence").Val(), "rdb_changes_since_last_save:0\r\n")
	})
	c.Close()
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	startRedis(t, dir)
	checkRedis(t, ctx, url)
	if after := queueState(t, ctx, url); after != before {
		t.Fatalf("after kill -9:\n got %s\nwant %s", after, before)
	}
}

// TestRedisAOFTornTail appends half a command, as a crash mid-write
// leaves, and wants the rest loaded and the stump cut off.
func TestRedisAOFTornTail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := startRedis(t, dir)
	url := r.Env()["REDIS_URL"]
	if err := newGoRedis(t, url).Set(t.Context(), "kept", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	stopRedis(t, r)
	path := filepath.Join(dir, redisAOFName)
	whole, _ := os.ReadFile(path)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("*3\r\n$3\r\nSET\r\n$4\r\nlost\r\n$5\r\nhal")
	f.Close()
	startRedis(t, dir)
	if got := newGoRedis(t, url).Get(t.Context(), "kept").Val(); got != "1" {
		t.Fatalf("GET kept = %q", got)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, whole) {
		t.Fatalf("torn tail not cut: %d bytes, want %d", len(now), len(whole))
	}
}

// failingFile is a log file on a full disk: /dev/full answers every write
// with ENOSPC.
func openDevFull(t *testing.T) *os.File {
	t.Helper()
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("open /dev/full: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestRedisAOFMisconf puts the log on a full disk: writes are refused with
// Redis' MISCONF error (reads still work) until the log can be written
// again, and a stop that cannot save says so.
func TestRedisAOFMisconf(t *testing.T) {
	t.Parallel()
	r := startRedis(t, t.TempDir())
	ctx := t.Context()
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	if err := c.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	aof := r.running.aof
	good := aof.setFile(openDevFull(t))
	c.Set(ctx, "in-buffer", "2", 0) // accepted before the failure is known
	waitFor(t, 5*time.Second, "MISCONF", func() bool {
		err := c.Set(ctx, "refused", "3", 0).Err()
		return err != nil && err.Error() == "MISCONF Errors writing to the AOF file: No space left on device"
	})
	if err := c.Eval(ctx, "return redis.call('SET', 'k', 'v')", nil).Err(); err == nil || !strings.HasPrefix(err.Error(), "MISCONF") {
		t.Fatalf("EVAL while failing: %v", err)
	}
	if got := c.Get(ctx, "before").Val(); got != "1" {
		t.Fatalf("reads stopped too: GET = %q", got)
	}
	if !strings.Contains(c.Info(ctx, "persistence").Val(), "aof_last_write_status:err") {
		t.Fatal("INFO persistence does not show the failure")
	}
	aof.setFile(good)
	waitFor(t, 5*time.Second, "writes to work again", func() bool { return c.Set(ctx, "after", "4", 0).Err() == nil })

	aof.setFile(openDevFull(t))
	c.Set(ctx, "last", "5", 0)
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := r.Stop(stopCtx)
	if err == nil || !strings.Contains(err.Error(), "final save failed") || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("Stop = %v, want the failed final save", err)
	}
}

// TestRedisMigratesOldSnapshot starts on a data directory of an older
// version (dump.gob, no log) and wants its data, then and on later starts.
func TestRedisMigratesOldSnapshot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := startRedis(t, dir) // for the password and ports
	url := r.Env()["REDIS_URL"]
	stopRedis(t, r)
	os.Remove(filepath.Join(dir, redisAOFName))
	expireAt := time.Now().Add(time.Hour).UnixMilli()
	dump := redisDump{Version: redisDumpVersion, SavedAt: time.Now(), DBs: []redisDumpDB{
		{Index: 0, Keys: []redisDumpKey{
			{Name: "str", Type: "string", Value: "v"},
			{Name: "ttl", Type: "string", Value: "x", ExpireAt: expireAt},
			{Name: "list", Type: "list", Items: []string{"a", "b", "a"}},
			{Name: "zset", Type: "zset", Items: []string{"m"}, Scores: []float64{1.0 / 3}},
			{Name: "hash", Type: "hash", Items: []string{"f", "v"}},
			{Name: "stream", Type: "stream", Entries: []miniredis.StreamEntry{{ID: "1-1", Values: []string{"a", "1"}}}},
		}},
		{Index: 3, Keys: []redisDumpKey{{Name: "in-db3", Type: "string", Value: "3"}}},
	}}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(dump); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dump.gob"), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		ctx := t.Context()
		c := newGoRedis(t, url)
		c3 := newGoRedis(t, url, func(o *redis.Options) { o.DB = 3 })
		ttl := c.TTL(ctx, "ttl").Val()
		got := fmt.Sprintln(c.Get(ctx, "str").Val(), ttl > 59*time.Minute, c.LRange(ctx, "list", 0, -1).Val(),
			c.ZScore(ctx, "zset", "m").Val() == 1.0/3, c.HGet(ctx, "hash", "f").Val(), len(c.XRange(ctx, "stream", "-", "+").Val()), c3.Get(ctx, "in-db3").Val())
		if want := "v true [a b a] true v 1 3\n"; got != want {
			t.Fatalf("migrated data = %s, want %s", got, want)
		}
	}
	r = startRedis(t, dir)
	check()
	if _, err := os.Stat(filepath.Join(dir, "dump.gob.migrated")); err != nil {
		t.Fatalf("dump.gob not moved aside: %v", err)
	}
	newGoRedis(t, url).RPush(t.Context(), "list", "later")
	stopRedis(t, r)
	startRedis(t, dir)
	if got := newGoRedis(t, url).LRange(t.Context(), "list", 0, -1).Val(); fmt.Sprint(got) != "[a b a later]" {
		t.Fatalf("after a second start: list = %v", got)
	}
}

// TestRedisSetStopReportsFailedSave: the add-on set passes a failed final
// save up, so `dynobox start` exits non-zero and prints it.
func TestRedisSetStopReportsFailedSave(t *testing.T) {
	t.Parallel()
	r := NewRedis(Options{Dir: t.TempDir(), Log: testLog(t, "redis")})
	set := NewSet(r)
	stop := runSet(t, set)
	r.running.aof.setFile(openDevFull(t))
	if err := newGoRedis(t, r.Env()["REDIS_URL"]).Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	err := stop()
	if err == nil || !strings.Contains(err.Error(), "stop heroku-redis: redis: final save failed, the last 1 writes are lost") {
		t.Fatalf("Set.Run = %v", err)
	}
}

// TestRedisPingLatencyUnderWrites measures the worst PING round trip with
// 200k keys while other clients write steadily: nothing may hold the
// server for long (the old once-a-second snapshot held it 0.5–15 s).
func TestRedisPingLatencyUnderWrites(t *testing.T) {
	t.Parallel()
	r := startRedis(t, t.TempDir())
	ctx := t.Context()
	url := r.Env()["REDIS_URL"]
	c := newGoRedis(t, url, func(o *redis.Options) { o.PoolSize = 4 })
	const keys = 200_000
	for i := 0; i < keys; i += 1000 {
		p := c.Pipeline()
		for j := i; j < i+1000; j++ {
			p.Set(ctx, fmt.Sprintf("key:%d", j), "value", 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if c.Set(ctx, fmt.Sprintf("key:%d", (i*4+w)%keys), i, 0).Err() == nil {
					writes.Add(1)
				}
			}
		}()
	}
	pinger := newGoRedis(t, url)
	var worst time.Duration
	deadline := time.Now().Add(3 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		start := time.Now()
		if err := pinger.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, time.Since(start))
		n++
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("worst PING of %d with %d keys under %d writes: %v", n, keys, writes.Load(), worst)
	// A generous bound (the machine is shared and -race is slow): the
	// old snapshot stalled ~10 s at this size.
	if worst > time.Second {
		t.Fatalf("worst PING %v", worst)
	}
}

// TestRedisKeyTTLsCountDownPerKey: without hash field TTLs, TTLs count
// down key by key (no FastForward), whichever way they were set.
func TestRedisKeyTTLsCountDownPerKey(t *testing.T) {
	t.Parallel()
	r := startRedis(t, t.TempDir())
	ctx := t.Context()
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	c3 := newGoRedis(t, r.Env()["REDIS_URL"], func(o *redis.Options) { o.DB = 3 })
	c.Set(ctx, "px", "v", 300*time.Millisecond)
	c.Eval(ctx, "redis.call('SET', KEYS[1], 'v') return redis.call('PEXPIRE', KEYS[1], 300)", []string{"by-script"})
	c.Set(ctx, "renamed-from", "v", 300*time.Millisecond)
	c.Rename(ctx, "renamed-from", "renamed-to")
	c3.Set(ctx, "db3", "v", 300*time.Millisecond)
	c.Set(ctx, "long", "v", time.Hour)
	for _, k := range []string{"px", "by-script", "renamed-to"} {
		waitFor(t, 5*time.Second, k+" to expire", func() bool { return c.Exists(ctx, k).Val() == 0 })
	}
	waitFor(t, 5*time.Second, "db3 to expire", func() bool { return c3.Exists(ctx, "db3").Val() == 0 })
	if ttl := c.PTTL(ctx, "long").Val(); ttl > time.Hour-200*time.Millisecond || ttl < 50*time.Minute {
		t.Fatalf("PTTL long = %v", ttl)
	}
	if r.running.expiry.usesFastForward() {
		t.Fatal("fell back to FastForward without hash field TTLs")
	}
}

// TestRedisConfigSetRefusesWhatItCannotDo: a memory limit or another
// persistence setting is refused, not accepted and ignored.
func TestRedisConfigSetRefusesWhatItCannotDo(t *testing.T) {
	t.Parallel()
	r := startRedis(t, t.TempDir())
	ctx := t.Context()
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	for _, kv := range [][2]string{{"maxmemory", "100mb"}, {"maxmemory-policy", "allkeys-lru"}, {"appendonly", "no"}, {"save", "60 1"}} {
		err := c.ConfigSet(ctx, kv[0], kv[1]).Err()
		if err == nil || !strings.Contains(err.Error(), "CONFIG SET failed") {
			t.Errorf("CONFIG SET %s %s: %v", kv[0], kv[1], err)
		}
	}
	if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Errorf("CONFIG SET maxmemory 0 (the value it has): %v", err)
	}
	if got := c.ConfigGet(ctx, "appendonly").Val()["appendonly"]; got != "yes" {
		t.Errorf("CONFIG GET appendonly = %q", got)
	}
}
