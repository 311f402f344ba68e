package router

import (
	"io"
	"net/http"
	"testing"

	"github.com/dynobox/dynobox/runner/metrics"
)

// BenchmarkRouter measures a small GET against a trivial dyno, directly and
// through the router (log lines formatted, then dropped), on loopback.
// Compare the two: the difference is the router's cost per request.
func BenchmarkRouter(b *testing.B) {
	backend, _ := startBackend(b, "web.1", hello("web.1"))
	b.Run("direct", func(b *testing.B) {
		benchGet(b, "http://"+backend.Addr+"/")
	})
	b.Run("router", func(b *testing.B) {
		rt := startRouter(b, Config{Pool: Static(backend), Log: func(string) {}})
		benchGet(b, rt.url+"/")
	})
	b.Run("router+observe", func(b *testing.B) {
		rec := metrics.New() // what dynobox start wires in: the cost of the router metrics
		rt := startRouter(b, Config{Pool: Static(backend), Log: func(string) {}, Observe: rec.Observe})
		benchGet(b, rt.url+"/")
	})
}

func benchGet(b *testing.B, url string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := c.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
}
