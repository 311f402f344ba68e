// Command autoscalebench measures a load step against an app that
// dynobox runs with autoscaling on (bench/autoscale.sh sets it up): the
// p95 before the step, the time to the first scale-up, the p95 during the
// step, and the time until the p95 is back under the target.
//
// It measures the response times itself, as a client sees them, in
// windows of -every (5 s): the router's own numbers lag by the autoscaling
// window. It reads the formation with `dynobox ps --json` every 250 ms.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"sync"
	"time"
)

type sample struct {
	end time.Time
	d   time.Duration
}

func main() {
	url := flag.String("url", "", "the app's URL (the router)")
	dynobox := flag.String("dynobox", "dynobox", "the dynobox binary")
	dir := flag.String("app", ".", "the app directory")
	clients := flag.Int("clients", 32, "clients during the step")
	base := flag.Duration("base", 15*time.Second, "how long to measure one client before the step")
	step := flag.Duration("step", 90*time.Second, "how long the step lasts")
	every := flag.Duration("every", 5*time.Second, "p95 window")
	target := flag.Duration("target", 0, "the autoscaling p95 target")
	flag.Parse()

	var mu sync.Mutex
	var samples []sample
	run := func(ctx context.Context, n int) *sync.WaitGroup {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				for ctx.Err() == nil {
					req, _ := http.NewRequestWithContext(ctx, "GET", *url, nil)
					t0 := time.Now()
					res, err := c.Do(req)
					if err != nil {
						continue
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					mu.Lock()
					samples = append(samples, sample{time.Now(), time.Since(t0)})
					mu.Unlock()
				}
			})
		}
		return &wg
	}

	ctx, cancel := context.WithTimeout(context.Background(), *base)
	run(ctx, 1).Wait()
	cancel()
	mu.Lock()
	before := p95(samples)
	nBefore := len(samples)
	samples = nil
	mu.Unlock()

	start := time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), *step)
	wg := run(ctx, *clients)
	var scaledAt time.Duration
	web := webCount(*dynobox, *dir)
	startWeb := web
	for ctx.Err() == nil {
		time.Sleep(250 * time.Millisecond)
		if n := webCount(*dynobox, *dir); n > web {
			if scaledAt == 0 {
				scaledAt = time.Since(start)
			}
			web = n
		}
	}
	wg.Wait()
	cancel()

	fmt.Printf("| measure | value |\n| --- | --- |\n")
	fmt.Printf("| p95 before the step (1 client, %s, %d requests) | %s |\n", *base, nBefore, ms(before))
	fmt.Printf("| step | %d clients for %s |\n", *clients, *step)
	if scaledAt > 0 {
		fmt.Printf("| time to first scale-up | %.1f s |\n", scaledAt.Seconds())
	} else {
		fmt.Printf("| time to first scale-up | none within the step |\n")
	}
	fmt.Printf("| web dynos | %d → %d |\n", startWeb, web)
	var back time.Duration = -1
	var worst time.Duration
	for w := time.Duration(0); w+*every <= *step; w += *every {
		var in []sample
		for _, s := range samples {
			if off := s.end.Sub(start); off >= w && off < w+*every {
				in = append(in, s)
			}
		}
		p := p95(in)
		worst = max(worst, p)
		fmt.Fprintf(os.Stderr, "%5.0fs  %5d req  p95 %s\n", (w + *every).Seconds(), len(in), ms(p))
		if back < 0 && scaledAt > 0 && w >= scaledAt && p <= *target {
			back = w + *every
		}
	}
	fmt.Printf("| worst p95 over %s windows during the step | %s |\n", *every, ms(worst))
	if n := len(samples); n > 0 {
		tail := samples[n*3/4:]
		fmt.Printf("| p95 of the step's last quarter | %s |\n", ms(p95(tail)))
	}
	if back >= 0 {
		fmt.Printf("| time until p95 (%s windows) back under %s | %.0f s |\n", *every, ms(*target), back.Seconds())
	} else {
		fmt.Printf("| time until p95 back under %s | not within the step |\n", ms(*target))
	}
}

func p95(s []sample) time.Duration {
	if len(s) == 0 {
		return 0
	}
	d := make([]time.Duration, len(s))
	for i, x := range s {
		d[i] = x.d
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[(len(d)*95+99)/100-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func webCount(bin, dir string) int {
	out, err := exec.Command(bin, "ps", "--json", "-C", dir).Output()
	if err != nil {
		return 0
	}
	var ps struct {
		Formation map[string]int `json:"formation"`
	}
	json.Unmarshal(out, &ps)
	return ps.Formation["web"]
}
