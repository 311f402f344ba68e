package router

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Request heads being read take bounded memory across all connections:
// 30 clients that each send an 8 MB head (within Heroku's limits: 1000
// lines of about 8 KB) hold a few slots' worth, not 30 heads' worth; the
// clients with a slot get their answer and hand the slot on. (The others
// are not waited for: reading 8 MB heads two at a time takes long on a
// busy machine.)
func TestHeadMemoryBounded(t *testing.T) {
	// Not parallel: it measures the heap.
	rt := startRouter(t, Config{Pool: newPool(NoWeb)})
	const clients, lines = 30, 999 // and Host: 1000 header lines
	value := strings.Repeat("b", 8100)
	headLine := func(i int) string { return fmt.Sprintf("X-H%03d: %s\r\n", i, value) }

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // the heap's peak while the heads are read
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	conns := make([]net.Conn, clients)
	for i := range conns {
		c, err := net.Dial("tcp", rt.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		conns[i] = c
	}
	// First a megabyte of head each: two clients get a slot, the others
	// wait for one, and none has its head answered yet.
	const first = 130
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := bufio.NewWriter(c)
			w.WriteString("GET /big HTTP/1.1\r\nHost: app.test\r\n")
			for i := range first {
				w.WriteString(headLine(i))
			}
			w.Flush()
		}()
	}
	wg.Wait()
	eventually(t, "all but two clients waiting for a slot", func() bool {
		return rt.headWaits.Load() == clients-bigHeadSlots
	})
	// Then the rest of each head: the clients with a slot get their
	// answer, and their slots go to the next ones.
	statuses := make(chan int, clients)
	for _, c := range conns {
		go func() {
			w := bufio.NewWriter(c)
			for i := first; i < lines; i++ {
				w.WriteString(headLine(i))
			}
			w.WriteString("\r\n")
			if w.Flush() != nil {
				statuses <- 0
				return
			}
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				statuses <- 0
				return
			}
			res.Body.Close()
			statuses <- res.StatusCode
		}()
	}
	for range 2 * bigHeadSlots {
		if s := <-statuses; s != 503 {
			t.Errorf("a client got %d, want 503 (H14: no web dyno)", s)
		}
	}
	close(stop)
	<-sampled
	grown := int64(peak.Load()) - int64(base)
	t.Logf("heap grew by at most %d MB while %d clients sent %.1f MB heads", grown>>20, clients, float64(lines*len(headLine(0)))/(1<<20))
	if grown > 150<<20 {
		t.Errorf("the heap grew by %d MB while reading the heads, want it bounded (under 150 MB)", grown>>20)
	}
	rt.logs.waitFor(t, `path="/big"`, "code=H14 ")
	for _, c := range conns {
		c.Close() // the rest give up
	}
}
