package addons

import (
	"context"
	"encoding/csv"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// BenchmarkRedisStart measures Start until both ports accept connections:
// cold is a new directory (password, certificate, no data), warm an
// existing one that restores a 10 000-key snapshot.
//
//	go test -run '^$' -bench 'RedisStart' ./addons/
func BenchmarkRedisStart(b *testing.B) {
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			benchRedisStartStop(b, dir)
		}
	})
	b.Run("warm-10k-keys", func(b *testing.B) {
		dir := b.TempDir()
		r := NewRedis(Options{Dir: dir})
		if err := r.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		c := redis.NewClient(redisOptions(b, r.Env()["REDIS_URL"]))
		pipe := c.Pipeline()
		for i := range 10_000 {
			pipe.Set(b.Context(), fmt.Sprintf("key:%d", i), "some value", 0)
		}
		if _, err := pipe.Exec(b.Context()); err != nil {
			b.Fatal(err)
		}
		c.Close()
		r.Stop(b.Context())
		for b.Loop() {
			benchRedisStartStop(b, dir)
		}
	})
}

// benchRedisStartStop times Start; Stop runs with the timer stopped.
func benchRedisStartStop(b *testing.B, dir string) {
	r := NewRedis(Options{Dir: dir})
	if err := r.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if err := r.Stop(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

func redisOptions(b *testing.B, rawURL string) *redis.Options {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		b.Fatal(err)
	}
	return o
}

// BenchmarkRedisVsRedisServer runs redis-benchmark (50 clients, SET and
// GET, 100 000 requests each) against our Redis, a real redis-server and
// bare miniredis (what our hook adds) in the same run, unpipelined and
// with -P 16, and reports requests/s of each and the ratio ours/real.
// Needs redis-tools and redis-server.
//
//	go test -run '^$' -bench 'RedisVsRedisServer' -benchtime 1x ./addons/
func BenchmarkRedisVsRedisServer(b *testing.B) {
	for _, tool := range []string{"redis-benchmark", "redis-server"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s not installed (apt-get install redis-tools redis-server)", tool)
		}
	}
	r := NewRedis(Options{Dir: b.TempDir()})
	if err := r.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer r.Stop(context.Background())
	u, _ := url.Parse(r.Env()["REDIS_URL"])
	pass, _ := u.User.Password()
	real := runRealRedisServer(b)
	bare, err := miniredis.Run()
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Close()
	for _, pipeline := range []int{1, 16} {
		b.Run(fmt.Sprintf("P%d", pipeline), func(b *testing.B) {
			for b.Loop() {
				ours := redisBenchmark(b, r.Addr(), pass, pipeline)
				theirs := redisBenchmark(b, real, "", pipeline)
				plain := redisBenchmark(b, bare.Addr(), "", pipeline)
				for _, t := range []string{"SET", "GET"} {
					name := strings.ToLower(t)
					b.ReportMetric(ours[t], "dynobox-"+name+"-req/s")
					b.ReportMetric(theirs[t], "redis-"+name+"-req/s")
					b.ReportMetric(plain[t], "miniredis-"+name+"-req/s")
					b.ReportMetric(ours[t]/theirs[t], name+"-ratio")
				}
			}
		})
	}
}

// redisBenchmark runs redis-benchmark and returns requests/s per test.
func redisBenchmark(b *testing.B, addr, password string, pipeline int) map[string]float64 {
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-h", host, "-p", port, "-c", "50", "-n", "100000", "-t", "set,get",
		"-P", strconv.Itoa(pipeline), "--csv"}
	if password != "" {
		args = append(args, "-a", password) // redis-benchmark ignores REDISCLI_AUTH
	}
	cmd := exec.CommandContext(b.Context(), "redis-benchmark", args...)
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("redis-benchmark %s: %v\n%s", addr, err, out)
	}
	rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil {
		b.Fatalf("redis-benchmark output: %v\n%s", err, out)
	}
	rps := map[string]float64{}
	for _, row := range rows[1:] {
		v, _ := strconv.ParseFloat(row[1], 64)
		rps[row[0]] = v
	}
	b.Logf("%s -P %d: %v (%v)", addr, pipeline, rps, time.Since(start).Round(time.Millisecond))
	return rps
}

// BenchmarkRedisPushOnLongList measures one LPUSH and one RPUSH onto a
// list of 100 000 elements on the embedded backend: miniredis keeps a
// list as a Go slice and its LPUSH builds a new one (O(n)), so dynobox
// pushes at the head of a long list itself (redis_listhead.go); RPUSH
// appends. Both amortised O(1); the README quotes the two.
//
//	go test -run '^$' -bench 'RedisPushOnLongList' ./addons/
func BenchmarkRedisPushOnLongList(b *testing.B) {
	r := NewRedis(Options{Dir: b.TempDir(), Ephemeral: true})
	r.want = RedisEmbedded
	if err := r.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer r.Stop(context.Background())
	c := redis.NewClient(redisOptions(b, r.Env()["REDIS_URL"]))
	defer c.Close()
	ctx := b.Context()
	for _, push := range []string{"LPUSH", "RPUSH"} {
		b.Run(push, func(b *testing.B) {
			key := "list-" + push
			items := make([]any, 0, 10_000)
			for i := range 10_000 {
				items = append(items, i)
			}
			for range 10 {
				if err := c.RPush(ctx, key, items...).Err(); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if err := c.Do(ctx, push, key, "x").Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
