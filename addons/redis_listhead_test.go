package addons

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisListHeadReachesMiniredis fails when a miniredis upgrade changed
// the fields redis_internals.go reaches: LPUSH onto long lists and hash
// field TTLs would silently fall back to miniredis' slow paths.
func TestRedisListHeadReachesMiniredis(t *testing.T) {
	if in := redisInternalsOf(); !in.ok {
		t.Fatal("miniredis' RedisDB/Miniredis fields changed: update redis_internals.go")
	}
}

func startEmbeddedRedis(t *testing.T, dir string) *Redis {
	t.Helper()
	r := NewRedis(Options{Dir: dir, Log: testLog(t, "redis")})
	r.want = RedisEmbedded
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopRedis(t, r) })
	return r
}

// TestRedisLongListHeadPushes: LPUSH/LPUSHX onto a long list (our head-room
// path, from clients and from a script) mixed with miniredis' own RPUSH, LPOP, RPOP, LSET, LINSERT and
// LTRIM keep the list a model list keeps, WATCH sees the pushes, and the
// list survives a restart from the log and from a rewritten log.
func TestRedisLongListHeadPushes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	r := startEmbeddedRedis(t, dir)
	url := r.Env()["REDIS_URL"]
	c := newGoRedis(t, url)

	var model []string
	lpush := func(vals ...string) {
		t.Helper()
		args := make([]any, len(vals))
		for i, v := range vals {
			args[i] = v
			model = append([]string{v}, model...)
		}
		n, err := c.LPush(ctx, "q", args...).Result()
		if err != nil || n != int64(len(model)) {
			t.Fatalf("LPUSH = %d, %v; want %d", n, err, len(model))
		}
	}
	for i := range 2 * redisListHeadMin {
		model = append(model, "r"+strconv.Itoa(i))
	}
	if err := c.RPush(ctx, "q", toAny(model)...).Err(); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		got, err := c.LRange(ctx, "q", 0, -1).Result()
		if err != nil || !slices.Equal(got, model) {
			t.Fatalf("%s: LRANGE has %d elements (%v), want %d; first %v want %v", when, len(got), err,
				len(model), got[:min(5, len(got))], model[:min(5, len(model))])
		}
	}
	for i := range 3000 {
		s := strconv.Itoa(i)
		switch i % 10 {
		case 0: // a script's LPUSH takes the same path
			n, err := c.Eval(ctx, "return redis.call('lpush', KEYS[1], ARGV[1], ARGV[2])", []string{"q"}, "e"+s, "f"+s).Int64()
			model = append([]string{"f" + s, "e" + s}, model...)
			if err != nil || n != int64(len(model)) {
				t.Fatalf("EVAL LPUSH = %d, %v; want %d", n, err, len(model))
			}
		case 1, 2, 3:
			lpush("l" + s)
		case 4:
			lpush("a"+s, "b"+s, "c"+s) // c ends up first, as in Redis
		case 5:
			if n, err := c.LPushX(ctx, "q", "x"+s).Result(); err != nil || n != int64(len(model)+1) {
				t.Fatalf("LPUSHX = %d, %v", n, err)
			}
			model = append([]string{"x" + s}, model...)
		case 6:
			if v, err := c.LPop(ctx, "q").Result(); err != nil || v != model[0] {
				t.Fatalf("LPOP = %q, %v; want %q", v, err, model[0])
			}
			model = model[1:]
		case 7:
			c.RPush(ctx, "q", "t"+s)
			model = append(model, "t"+s)
		case 8:
			if v, err := c.RPop(ctx, "q").Result(); err != nil || v != model[len(model)-1] {
				t.Fatalf("RPOP = %q, %v", v, err)
			}
			model = model[:len(model)-1]
		case 9:
			if i%100 == 9 { // miniredis replaces the slice: the head room is rebuilt
				c.LInsertBefore(ctx, "q", model[1], "i"+s)
				model = slices.Insert(model, 1, "i"+s)
			} else {
				c.LSet(ctx, "q", 0, "s"+s)
				model[0] = "s" + s
			}
		}
	}
	check("after mixed pushes and pops")
	c.LTrim(ctx, "q", 2, -3)
	model = model[2 : len(model)-2]
	lpush("after-trim")
	check("after LTRIM")
	if err := c.Rename(ctx, "q", "q2").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename(ctx, "q2", "q").Err(); err != nil {
		t.Fatal(err)
	}
	lpush("after-rename")
	check("after RENAME")

	// WATCH notices a head push by another client.
	err := c.Watch(ctx, func(tx *redis.Tx) error {
		lpush("while-watched")
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error { p.Set(ctx, "k", "v", 0); return nil })
		return err
	}, "q")
	if err != redis.TxFailedErr {
		t.Fatalf("EXEC after a watched LPUSH: %v, want %v", err, redis.TxFailedErr)
	}
	// A type error and a missing key are miniredis' replies.
	c.Set(ctx, "str", "x", 0)
	if err := c.LPush(ctx, "str", "x").Err(); err == nil {
		t.Fatal("LPUSH onto a string succeeded")
	}
	if n, _ := c.LPushX(ctx, "nope", "x").Result(); n != 0 {
		t.Fatalf("LPUSHX onto a missing key = %d", n)
	}

	stopRedis(t, r)
	r = startEmbeddedRedis(t, dir)
	c = newGoRedis(t, r.Env()["REDIS_URL"])
	check("after a restart (log replayed)")
	lpush("after-restart")
	if err := c.Do(ctx, "BGREWRITEAOF").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the rewrite", func() bool { return infoField(t, ctx, c, "aof_rewrites") == "1" })
	lpush("after-rewrite")
	stopRedis(t, r)
	r = startEmbeddedRedis(t, dir)
	c = newGoRedis(t, r.Env()["REDIS_URL"])
	check("after a restart from the rewritten log")
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
