package addons

import (
	"context"
	"encoding/csv"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// BenchmarkRedisSystemVsRedisServer runs redis-benchmark's default test
// set (50 clients, 100 000 requests each) against the system backend and
// against a plain redis-server started by hand, alternately in the same
// run, unpipelined and with -P 16, and logs requests/s and the ratio
// ours/plain per command. The backend keeps an AOF (fsynced every second)
// and asks for AUTH; the plain server has neither.
//
//	go test -run '^$' -bench 'RedisSystemVsRedisServer' -benchtime 1x -v ./addons/
func BenchmarkRedisSystemVsRedisServer(b *testing.B) {
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		b.Skip("redis-benchmark not installed (apt-get install redis-tools)")
	}
	needRedisServer(b)
	r := NewRedis(Options{Dir: b.TempDir()})
	r.want = RedisSystem
	if err := r.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer r.Stop(context.Background())
	plain := runRealRedisServer(b)
	for _, pipeline := range []int{1, 16} {
		b.Run(fmt.Sprintf("P%d", pipeline), func(b *testing.B) {
			for b.Loop() {
				ours := redisBenchmarkAll(b, r.Addr(), r.system.password, pipeline)
				theirs := redisBenchmarkAll(b, plain, "", pipeline)
				var names []string
				for name := range theirs {
					names = append(names, name)
				}
				slices.Sort(names)
				var lines []string
				worst := 0.0
				for _, name := range names {
					ratio := ours[name] / theirs[name]
					if worst == 0 || ratio < worst {
						worst = ratio
					}
					lines = append(lines, fmt.Sprintf("%-28s %10.0f %10.0f  %.2f×", name, ours[name], theirs[name], ratio))
				}
				b.Logf("-P %d: command, dynobox req/s, plain redis-server req/s, ratio\n%s", pipeline, strings.Join(lines, "\n"))
				b.ReportMetric(worst, "worst-ratio")
				b.ReportMetric(ours["SET"]/theirs["SET"], "set-ratio")
				b.ReportMetric(ours["GET"]/theirs["GET"], "get-ratio")
			}
		})
	}
}

// redisBenchmarkAll runs redis-benchmark's default tests and returns
// requests/s per test.
func redisBenchmarkAll(b *testing.B, addr, password string, pipeline int) map[string]float64 {
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-h", host, "-p", port, "-c", "50", "-n", "100000", "-P", strconv.Itoa(pipeline), "--csv"}
	if password != "" {
		args = append(args, "-a", password)
	}
	out, err := exec.CommandContext(b.Context(), "redis-benchmark", args...).Output()
	if err != nil {
		b.Fatalf("redis-benchmark %s: %v\n%s", addr, err, out)
	}
	rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil || len(rows) < 2 {
		b.Fatalf("redis-benchmark output: %v\n%s", err, out)
	}
	rps := map[string]float64{}
	for _, row := range rows[1:] {
		v, _ := strconv.ParseFloat(row[1], 64)
		rps[row[0]] = v
	}
	return rps
}

// BenchmarkRedisPingUnderWrites fills 200 000 keys, then keeps four
// clients writing (SET, pipelined by 10) while one client PINGs for five
// seconds, and reports the worst and 99th-percentile PING round trip:
// what a web dyno's health check sees while a worker writes and the
// backend persists. "plain" is a redis-server started by hand (no AOF, no
// AUTH), the same measurement for scale on a busy machine.
//
//	go test -run '^$' -bench 'RedisPingUnderWrites' -benchtime 1x -v ./addons/
func BenchmarkRedisPingUnderWrites(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		needRedisServer(b)
		url := "redis://" + runRealRedisServer(b)
		for b.Loop() {
			worst, p99, writes := pingUnderWrites(b, url, 200_000, 5*time.Second)
			b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ping-ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ping-ms")
			b.ReportMetric(float64(writes), "writes")
		}
	})
	for _, backend := range redisBackends {
		b.Run(backend, func(b *testing.B) {
			if backend == RedisSystem {
				needRedisServer(b)
			}
			r := NewRedis(Options{Dir: b.TempDir()})
			r.want = backend
			if err := r.Start(b.Context()); err != nil {
				b.Fatal(err)
			}
			defer r.Stop(context.Background())
			for b.Loop() {
				worst, p99, writes := pingUnderWrites(b, r.Env()["REDIS_URL"], 200_000, 5*time.Second)
				b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ping-ms")
				b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ping-ms")
				b.ReportMetric(float64(writes), "writes")
			}
		})
	}
}

// pingUnderWrites is the measurement of BenchmarkRedisPingUnderWrites.
func pingUnderWrites(b *testing.B, url string, keys int, d time.Duration) (worst, p99 time.Duration, writes int64) {
	ctx := b.Context()
	c := redis.NewClient(redisOptions(b, url))
	defer c.Close()
	for i := 0; i < keys; i += 10_000 {
		p := c.Pipeline()
		for j := i; j < i+10_000 && j < keys; j++ {
			p.Set(ctx, "key:"+strconv.Itoa(j), "some value of a key", 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var n atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i += 4 {
				select {
				case <-stop:
					return
				default:
				}
				p := c.Pipeline()
				for j := 0; j < 10; j++ {
					p.Set(ctx, "key:"+strconv.Itoa((i*10+j)%keys), i, 0)
				}
				if _, err := p.Exec(ctx); err == nil {
					n.Add(10)
				}
			}
		}()
	}
	pinger := redis.NewClient(redisOptions(b, url))
	defer pinger.Close()
	var rtts []time.Duration
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		t0 := time.Now()
		if err := pinger.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		rtts = append(rtts, time.Since(t0))
		time.Sleep(time.Millisecond) // a health check's pace, not a flood
	}
	close(stop)
	wg.Wait()
	slices.Sort(rtts)
	return rtts[len(rtts)-1], rtts[len(rtts)*99/100], n.Load()
}
