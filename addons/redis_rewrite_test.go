package addons

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// infoField is one field of INFO persistence.
func infoField(t *testing.T, ctx context.Context, c *redis.Client, name string) string {
	t.Helper()
	for _, line := range strings.Split(c.Info(ctx, "persistence").Val(), "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return v
		}
	}
	t.Fatalf("INFO persistence has no %s", name)
	return ""
}

// extraState is what the rewrite test adds to queueState: a dense
// HyperLogLog, a stream whose newest entry was deleted, a pending entry
// delivered twice, and a counter incremented while the rewrite ran.
func extraState(t *testing.T, ctx context.Context, c *redis.Client, ttlAt time.Time) string {
	t.Helper()
	pending, err := c.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: "jobs", Group: "workers", Start: "-", End: "+", Count: 10}).Result()
	if err != nil {
		t.Fatal(err)
	}
	var retries []string
	for _, p := range pending {
		retries = append(retries, fmt.Sprintf("%s×%d", p.ID, p.RetryCount))
	}
	consumers := c.XInfoConsumers(ctx, "jobs", "workers").Val()
	var names []string
	for _, cn := range consumers {
		names = append(names, fmt.Sprintf("%s:%d", cn.Name, cn.Pending))
	}
	// An XADD at or below the deleted newest ID must still be refused.
	stale := c.XAdd(ctx, &redis.XAddArgs{Stream: "trimmed", ID: "5-0", Values: []string{"k", "v"}}).Err()
	// TTLs count down a tick at a time (redis_expire.go): within a second.
	drift := c.PExpireTime(ctx, "ttl-abs").Val() - time.Duration(ttlAt.UnixMilli())*time.Millisecond
	return fmt.Sprintf("big hll %d; trimmed %d entries, stale XADD refused %v; retries %v; consumers %v; counter %s; big list %d; absolute ttl kept %v",
		c.PFCount(ctx, "big-hll").Val(), c.XLen(ctx, "trimmed").Val(), stale != nil, retries, names,
		c.Get(ctx, "counter").Val(), c.LLen(ctx, "big-list").Val(), drift.Abs() < time.Second)
}

// TestRedisAOFRewrite: BGREWRITEAOF compacts the log while clients write;
// after a kill -9 every type comes back — consumer groups, pending entries
// and HyperLogLogs included — from a smaller log.
func TestRedisAOFRewrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	child, url := startAddonChild(t, "redis", dir)
	ctx := t.Context()
	fillRedis(t, ctx, url)
	fillQueues(t, ctx, url)
	c := newGoRedis(t, url)
	// Bulk that a rewrite compacts: a counter bumped many times, a list
	// pushed and trimmed, a HyperLogLog past its sparse form.
	for i := 0; i < 20; i++ {
		p := c.Pipeline()
		for j := 0; j < 500; j++ {
			p.Incr(ctx, "counter")
			p.RPush(ctx, "big-list", strconv.Itoa(i*500+j))
			p.PFAdd(ctx, "big-hll", fmt.Sprintf("visitor-%d", i*500+j))
		}
		p.LTrim(ctx, "big-list", -3000, -1)
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.XAdd(ctx, &redis.XAddArgs{Stream: "trimmed", ID: "5-0", Values: []string{"a", "1"}})
	c.XAdd(ctx, &redis.XAddArgs{Stream: "trimmed", ID: "7-0", Values: []string{"a", "2"}})
	c.XDel(ctx, "trimmed", "7-0")
	c.XClaim(ctx, &redis.XClaimArgs{Stream: "jobs", Group: "workers", Consumer: "w2", Messages: []string{"3-0"}})
	c.Set(ctx, "ttl-abs", "v", 0)
	ttlAt := time.Now().Add(2 * time.Hour)
	c.PExpireAt(ctx, "ttl-abs", ttlAt)
	c.Set(ctx, "counter", "0", 0)

	waitFor(t, 5*time.Second, "the log to be fsynced", func() bool {
		return infoField(t, ctx, c, "rdb_changes_since_last_save") == "0"
	})
	sizeBefore, _ := strconv.ParseInt(infoField(t, ctx, c, "aof_current_size"), 10, 64)

	// Writers keep going while the rewrite runs: their writes must land in
	// the new log's tail.
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := newGoRedis(t, url)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if w.Incr(ctx, "counter").Err() == nil {
				acked.Add(1)
			}
		}
	}()
	waitFor(t, 5*time.Second, "writes under way", func() bool { return acked.Load() > 50 })
	if got, err := c.Do(ctx, "BGREWRITEAOF").Text(); err != nil || got != "Background append only file rewriting started" {
		t.Fatalf("BGREWRITEAOF = %q, %v", got, err)
	}
	waitFor(t, 60*time.Second, "the rewrite", func() bool { return infoField(t, ctx, c, "aof_rewrites") == "1" })
	if st := infoField(t, ctx, c, "aof_last_bgrewrite_status"); st != "ok" {
		t.Fatalf("aof_last_bgrewrite_status = %s", st)
	}
	atRewrite := acked.Load()
	waitFor(t, 5*time.Second, "writes after the rewrite", func() bool { return acked.Load() > atRewrite+50 })
	close(stop)
	wg.Wait()
	c.PFAdd(ctx, "visitors", "after-rewrite")
	c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "workers", Consumer: "w3", Streams: []string{"jobs", ">"}, Count: 1})

	before := queueState(t, ctx, url) + "; " + extraState(t, ctx, c, ttlAt)
	if want := fmt.Sprintf("counter %d; big list 3000; absolute ttl kept true", acked.Load()); !strings.Contains(before, want) {
		t.Fatalf("before the crash, want %s: %s", want, before)
	}
	waitFor(t, 5*time.Second, "the log to be fsynced", func() bool {
		return infoField(t, ctx, c, "rdb_changes_since_last_save") == "0"
	})
	sizeAfter, _ := strconv.ParseInt(infoField(t, ctx, c, "aof_current_size"), 10, 64)
	if fi, err := os.Stat(filepath.Join(dir, redisAOFName)); err != nil || fi.Size() != sizeAfter {
		t.Fatalf("log file %v, %v; INFO says %d bytes", fi, err, sizeAfter)
	}
	c.Close()
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()

	startRedis(t, dir)
	checkRedis(t, ctx, url)
	c2 := newGoRedis(t, url)
	after := queueState(t, ctx, url) + "; " + extraState(t, ctx, c2, ttlAt)
	if after != before {
		t.Fatalf("after rewrite and kill -9:\n got %s\nwant %s", after, before)
	}
	// The writes during the rewrite (one INCR each) are few beside the
	// 30 000 commands the rewrite folded away.
	if sizeAfter >= sizeBefore/2 {
		t.Fatalf("log is %d bytes after the rewrite, %d before", sizeAfter, sizeBefore)
	}
	t.Logf("log %d → %d bytes; %s", sizeBefore, sizeAfter, after)
}

// TestRedisAOFRewritesItself: once the log has doubled since its last
// rewrite and passed the minimum size, it is rewritten without a command.
func TestRedisAOFRewritesItself(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := NewRedis(Options{Dir: dir, Log: testLog(t, "redis")})
	r.aofRewriteMin = 64 << 10
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop(context.Background()) })
	ctx := t.Context()
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	p := c.Pipeline()
	for i := 0; i < 5000; i++ {
		p.Set(ctx, "same-key", strconv.Itoa(i), 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// Under load the first rewrite can come mid-pipeline, and the rest of
	// the pipeline lands after it (a log of 67 KB was seen, not yet double
	// its rewritten size): what must hold is that the log was rewritten
	// with no BGREWRITEAOF sent and is well under the ~200 KB that 5,000
	// SETs take unrewritten.
	var size int64
	waitFor(t, 30*time.Second, "a rewrite by itself to under 128 KiB", func() bool {
		size, _ = strconv.ParseInt(infoField(t, ctx, c, "aof_current_size"), 10, 64)
		return infoField(t, ctx, c, "aof_rewrites") != "0" && size < 128<<10
	})
	stopRedis(t, r)
	startRedis(t, dir)
	if got := c.Get(ctx, "same-key").Val(); got != "4999" {
		t.Fatalf("GET same-key = %q after the rewrite and a restart", got)
	}
}
