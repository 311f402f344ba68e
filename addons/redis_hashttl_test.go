package addons

import (
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisHashFieldTTLsCountDownPerHash: hash field TTLs run out in real
// time hash by hash (never miniredis' whole-data-set FastForward), in any
// database and after RENAME; a hash whose last field expires is gone; and
// the expiry is in the log, so a restart does not bring the fields back.
func TestRedisHashFieldTTLsCountDownPerHash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	r := startEmbeddedRedis(t, dir)
	url := r.Env()["REDIS_URL"]
	c := newGoRedis(t, url)
	c3 := newGoRedis(t, url, func(o *redis.Options) { o.DB = 3 })
	hexpire := func(c *redis.Client, key string, secs int, fields ...string) {
		t.Helper()
		args := []any{"HEXPIRE", key, secs, "FIELDS", len(fields)}
		for _, f := range fields {
			args = append(args, f)
		}
		if err := c.Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.HSet(ctx, "h", "keep", "1", "drop", "2", "long", "3")
	hexpire(c, "h", 1, "drop")
	hexpire(c, "h", 3600, "long")
	c.HSet(ctx, "all", "a", "1", "b", "2")
	hexpire(c, "all", 1, "a", "b")
	c.HSet(ctx, "from", "a", "1", "b", "2")
	hexpire(c, "from", 1, "a")
	c.Rename(ctx, "from", "to")
	c3.HSet(ctx, "h3", "a", "1", "b", "2")
	hexpire(c3, "h3", 1, "a")

	waitFor(t, 5*time.Second, "fields to expire", func() bool {
		return !c.HExists(ctx, "h", "drop").Val() && c.Exists(ctx, "all").Val() == 0 &&
			!c.HExists(ctx, "to", "a").Val() && !c3.HExists(ctx, "h3", "a").Val()
	})
	if got := c.HKeys(ctx, "h").Val(); !slices.Equal(sorted(got), []string{"keep", "long"}) {
		t.Fatalf("HKEYS h = %v", got)
	}
	if !c.HExists(ctx, "to", "b").Val() || !c3.HExists(ctx, "h3", "b").Val() {
		t.Fatal("a field without a TTL expired")
	}
	pttl, err := c.Do(ctx, "HPTTL", "h", "FIELDS", 1, "long").Int64Slice()
	if err != nil || len(pttl) != 1 || pttl[0] >= 3600_000 || pttl[0] < 3500_000 {
		t.Fatalf("HPTTL h long = %v, %v: not counting down", pttl, err)
	}
	if r.running.expiry.usesFastForward() {
		t.Fatal("hash field TTLs fell back to FastForward")
	}
	waitFor(t, 5*time.Second, "the log to be fsynced", func() bool {
		return infoField(t, ctx, c, "rdb_changes_since_last_save") == "0"
	})
	stopRedis(t, r)
	r = startEmbeddedRedis(t, dir)
	c = newGoRedis(t, r.Env()["REDIS_URL"])
	c3 = newGoRedis(t, r.Env()["REDIS_URL"], func(o *redis.Options) { o.DB = 3 })
	if got := c.HKeys(ctx, "h").Val(); !slices.Equal(sorted(got), []string{"keep", "long"}) {
		t.Fatalf("after a restart, HKEYS h = %v", got)
	}
	if c.Exists(ctx, "all").Val() != 0 || c.HExists(ctx, "to", "a").Val() || c3.HExists(ctx, "h3", "a").Val() {
		t.Fatal("after a restart, expired fields are back")
	}
}

func sorted(ss []string) []string {
	slices.Sort(ss)
	return ss
}

// TestRedisSwapDBInScriptKeepsTTLs: a script's SWAPDB (run under
// miniredis' lock) neither hangs the server nor stops the swapped keys'
// TTLs and hash field TTLs from running out.
func TestRedisSwapDBInScriptKeepsTTLs(t *testing.T) {
	t.Parallel()
	r := startEmbeddedRedis(t, t.TempDir())
	ctx := t.Context()
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	c5 := newGoRedis(t, r.Env()["REDIS_URL"], func(o *redis.Options) { o.DB = 5 })
	c.Set(ctx, "k", "v", 2*time.Second)
	c.HSet(ctx, "h", "a", "1", "b", "2")
	c.Do(ctx, "HEXPIRE", "h", 1, "FIELDS", 1, "a")
	done := make(chan error, 1)
	go func() { done <- c.Eval(ctx, "return redis.call('swapdb', 0, 5)", nil).Err() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("SWAPDB in a script: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("SWAPDB in a script hung the server")
	}
	if c5.Exists(ctx, "k").Val() != 1 {
		t.Fatal("k not in db 5 after SWAPDB")
	}
	waitFor(t, 15*time.Second, "swapped TTLs to run out", func() bool {
		return c5.Exists(ctx, "k").Val() == 0 && !c5.HExists(ctx, "h", "a").Val()
	})
	if !c5.HExists(ctx, "h", "b").Val() {
		t.Fatal("a field without a TTL expired")
	}
}
