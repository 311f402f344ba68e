// Package building answers the app's public port while dynobox starts the
// add-ons and builds the first release, before any web dyno can exist. A
// cold first build takes minutes (module downloads); instead of holding
// every request until the router's H20, each gets at once a page that says
// the app is building, for how long, and where to watch — a 503 with
// Retry-After, and a router log line.
//
// A Gate owns the public listener. Until Open it answers every connection
// itself, without keep-alive (so that no browser connection outlives the
// build); from Open on it hands every new connection to the router through
// Listener. It knows nothing of the router.
//
// Its contract: New starts nothing; Run accepts until its context ends
// or Close (idempotent) is called, then closes the listener and returns.
// It never prints: its router log lines go to Config.Log.
package building

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what the page says and where its log lines go.
type Config struct {
	App string // the app's name
	// Watch lists where to watch the build, most useful first: the
	// dashboard's address, CLI commands.
	Watch []string
	Log   func(line string) // one heroku[router] line per request
}

// Gate holds the public port: the building page until Open, then the router.
type Gate struct {
	cfg     Config
	watch   atomic.Pointer[[]string]
	l       net.Listener
	started time.Time
	phase   atomic.Pointer[string]
	open    atomic.Bool

	page, router *chanListener
	srv          *http.Server
	closeOnce    sync.Once
	closed       atomic.Bool
}

// New returns a gate on l, saying phase; nothing runs until Run.
func New(l net.Listener, cfg Config) *Gate {
	g := &Gate{cfg: cfg, l: l, started: time.Now(), page: newChanListener(l.Addr()), router: newChanListener(l.Addr())}
	g.SetPhase("starting")
	g.SetWatch(cfg.Watch)
	g.srv = &http.Server{Handler: http.HandlerFunc(g.serve), ReadHeaderTimeout: 10 * time.Second}
	g.srv.SetKeepAlivesEnabled(false)
	return g
}

// SetPhase says what dynobox does now, as the page words it: "starting
// its add-ons", "building"…
func (g *Gate) SetPhase(phase string) { g.phase.Store(&phase) }

// SetWatch replaces Config.Watch (after Run has begun too: the
// dashboard's address is known only once it listens).
func (g *Gate) SetWatch(watch []string) { g.watch.Store(&watch) }

// Listener is what the router serves: the connections accepted after Open.
func (g *Gate) Listener() net.Listener { return g.router }

// Open sends every connection accepted from now on to the router.
func (g *Gate) Open() { g.open.Store(true) }

// Run accepts connections — the page's until Open, the router's after —
// until ctx ends, Close is called or the listener fails; then it closes
// the gate and returns (nil, or the listener's failure).
func (g *Gate) Run(ctx context.Context) error {
	defer context.AfterFunc(ctx, g.Close)()
	go g.srv.Serve(g.page)
	for {
		c, err := g.l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			stopped := g.closed.Load() || ctx.Err() != nil
			g.Close()
			if stopped {
				return nil
			}
			return fmt.Errorf("building page: %w", err)
		}
		to := g.page
		if g.open.Load() {
			to = g.router
		}
		if !to.deliver(c) {
			c.Close()
		}
	}
}

// Close stops accepting and closes the public listener; connections the
// router already has are the router's to finish.
func (g *Gate) Close() {
	g.closeOnce.Do(func() {
		g.closed.Store(true)
		g.l.Close()
		g.page.Close()
		g.router.Close()
		g.srv.Close()
	})
}

// RetryAfter is the Retry-After the page sends, in seconds; the page also
// reloads itself at that pace.
const RetryAfter = 3

func (g *Gate) serve(w http.ResponseWriter, r *http.Request) {
	phase := *g.phase.Load()
	elapsed := time.Since(g.started).Round(time.Second)
	var b strings.Builder
	fmt.Fprintf(&b, pageHead, RetryAfter, html.EscapeString(g.cfg.App+" is "+phase))
	fmt.Fprintf(&b, "<h1>%s is %s</h1>\n", html.EscapeString(g.cfg.App), html.EscapeString(phase))
	fmt.Fprintf(&b, "<p>dynobox started %s ago and is getting the first release ready; no web dyno runs until it is. This page reloads itself and shows the app once it answers.</p>\n", elapsed)
	if watch := *g.watch.Load(); len(watch) > 0 {
		b.WriteString("<p>Watch it:</p>\n<ul>\n")
		for _, w := range watch {
			fmt.Fprintf(&b, "<li>%s</li>\n", watchItem(w))
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString("</main></body></html>\n")

	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Retry-After", strconv.Itoa(RetryAfter))
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusServiceUnavailable)
	if r.Method != http.MethodHead {
		w.Write([]byte(b.String()))
	}
	if g.cfg.Log != nil {
		g.cfg.Log(logLine(r, phase, b.Len()))
	}
}

// watchItem links an address and shows a command as code.
func watchItem(w string) string {
	if strings.HasPrefix(w, "http://") || strings.HasPrefix(w, "https://") {
		e := html.EscapeString(w)
		return `the dashboard: <a href="` + e + `">` + e + `</a>`
	}
	return "<code>" + html.EscapeString(w) + "</code>"
}

// logLine is the router's line for a request the building page answered,
// in Heroku's shape; no dyno was reached.
func logLine(r *http.Request, phase string, n int) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 {
		ip = strings.Join(prior, ", ") + ", " + ip
	}
	id := r.Header.Get("X-Request-Id")
	if len(id) < 20 || len(id) > 200 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-+=/") != "" {
		id = newUUID()
	}
	return fmt.Sprintf(`at=info desc="App is %s: answered with the building page" method=%s path=%s host=%s request_id=%s fwd=%s dyno= connect= service= status=503 bytes=%d protocol=http`,
		phase, r.Method, strconv.Quote(r.RequestURI), strings.ReplaceAll(r.Host, " ", ""), id, strconv.Quote(ip), n)
}

func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// chanListener is a net.Listener whose connections another accept loop
// delivers.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// deliver hands c to Accept; false once the listener is closed.
func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// pageHead is the router's error page in spirit: plain, centred, no
// external assets; it reloads itself every RetryAfter seconds.
const pageHead = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="%d">
<title>%s</title>
<style>
html,body{height:100%%;margin:0}
body{display:flex;align-items:center;justify-content:center;background:#f7f8fb;color:#3f3f44;
font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:36rem;padding:2rem}
h1{font-size:1.6rem;font-weight:600;margin:0 0 1rem;color:#79589f;text-align:center}
code{font-family:ui-monospace,Menlo,Consolas,monospace;background:#fff;border:1px solid #e3e5ec;border-radius:4px;padding:.1rem .4rem}
</style></head><body><main>
`
