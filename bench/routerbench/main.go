// Command routerbench is the server side of bench/router.sh.
//
//	routerbench backend -addr 127.0.0.1:PORT                   a trivial web dyno: "Hello, world!"
//	routerbench router  -addr 127.0.0.1:PORT -backend HOST:PORT  dynobox's router in front of it, with
//	                                                            dynobox's GC target unless GOGC is set
//	                    [-cpuprofile FILE] [-memprofile FILE]      pprof profiles, written at SIGTERM
//	routerbench stdproxy -addr 127.0.0.1:PORT -backend HOST:PORT the floor: net/http's server and one
//	                                                            http.Transport, nothing else
//
// The router formats its log line for every request, as dynobox does, and
// drops it (-log stderr prints it), so the cost measured is routing, not a
// terminal.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/web/router"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "backend":
		err = backend(os.Args[2:])
	case "router":
		err = runRouter(os.Args[2:])
	case "stdproxy":
		err = stdProxy(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "routerbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: routerbench backend -addr ADDR | router -addr ADDR -backend ADDR[,ADDR…] [-log discard|stderr] [-cpuprofile FILE] [-memprofile FILE] | stdproxy -addr ADDR -backend ADDR")
	os.Exit(2)
}

func backend(args []string) error {
	fs := flag.NewFlagSet("backend", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	fs.Parse(args)
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello, world!")
	})}
	return serveUntilSignal(l, srv.Serve, srv.Shutdown)
}

func runRouter(args []string) error {
	fs := flag.NewFlagSet("router", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	backends := fs.String("backend", "", "comma-separated dyno addresses")
	logTo := fs.String("log", "discard", "discard or stderr")
	profile := fs.String("cpuprofile", "", "write a CPU profile here until shutdown")
	memProfile := fs.String("memprofile", "", "write an allocation profile here at shutdown")
	fs.Parse(args)
	if *memProfile != "" {
		defer func() {
			if f, err := os.Create(*memProfile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *backends == "" {
		return fmt.Errorf("-backend is required")
	}
	// dynobox's own GC target (main.go), so that this is the router as
	// dynobox runs it; GOGC=100 in the environment measures Go's default.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	var pool []router.Backend
	for i, a := range strings.Split(*backends, ",") {
		pool = append(pool, router.Backend{Dyno: "web." + strconv.Itoa(i+1), Addr: a})
	}
	logf := func(string) {}
	if *logTo == "stderr" {
		logf = func(line string) { fmt.Fprintln(os.Stderr, line) }
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	p, _ := strconv.Atoi(port)
	rt := router.New(router.Config{Pool: router.Static(pool...), Log: logf, PublicPort: p})
	return serveUntilSignal(l, rt.Serve, rt.Shutdown)
}

// stdProxy is the least a proxy on the standard library does per request:
// net/http's server reads the request, one http.Transport (connections
// kept alive) sends it to the dyno, and the dyno's status, header and body
// are copied back. No Heroku headers, hop-by-hop handling, log line, error
// codes or dyno choice: what it costs is the floor under any router built
// from these pieces, the figure to hold web/router's against.
func stdProxy(args []string) error {
	fs := flag.NewFlagSet("stdproxy", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	backend := fs.String("backend", "", "the dyno's address")
	fs.Parse(args)
	if *backend == "" {
		return fmt.Errorf("-backend is required")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	bufs := sync.Pool{New: func() any { return new([32 << 10]byte) }}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Scheme, r.URL.Host, r.RequestURI = "http", *backend, ""
		res, err := tr.RoundTrip(r)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		b := bufs.Get().(*[32 << 10]byte)
		io.CopyBuffer(w, res.Body, b[:])
		bufs.Put(b)
	})
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	return serveUntilSignal(l, srv.Serve, srv.Shutdown)
}

// serveUntilSignal serves until SIGINT or SIGTERM, then shuts down.
func serveUntilSignal(l net.Listener, serve func(net.Listener) error, shutdown func(context.Context) error) error {
	fmt.Println("listening", l.Addr())
	errc := make(chan error, 1)
	go func() { errc <- serve(l) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errc:
		return err
	case <-sig:
	}
	gcReport()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return shutdown(ctx)
}

// gcReport prints what the garbage collector cost the process so far, for
// router.sh: a direct reading of GC's share, which the machine's other work
// moves much less than req/s or CPU per request. The runtime's CPU classes
// are its estimates; "idle" is marking on Ps that had nothing else to run,
// which on a shared 2-CPU machine is still CPU that wrk and the dyno could
// have used.
func gcReport() {
	s := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/gc/mark/idle:cpu-seconds"},
		{Name: "/cpu/classes/scavenge/total:cpu-seconds"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/heap/goal:bytes"},
	}
	metrics.Read(s)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	pct := func(v float64) float64 { return 100 * v / cpu }
	fmt.Printf("gc: %d cycles; of %.1f s CPU: GC %.1f%% (idle marking %.1f%%), scavenger %.1f%%; live heap %.1f MB, goal %.1f MB\n",
		s[0].Value.Uint64(), cpu, pct(s[1].Value.Float64()), pct(s[2].Value.Float64()), pct(s[3].Value.Float64()),
		float64(s[4].Value.Uint64())/(1<<20), float64(s[5].Value.Uint64())/(1<<20))
}
