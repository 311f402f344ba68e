package router

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"strconv"
)

// hcode is a Heroku router error code; 0 means none.
type hcode uint8

const (
	none hcode = iota
	h10
	h12
	h13
	h14
	h15
	h18
	h19
	h20
	h21
	h25       // the request breaks a limit or HTTP's rules: 400
	h25method // a method the router does not route (CONNECT): 405
	h25proto  // another protocol than HTTP/1 (the HTTP/2 preface): 505
	h25bad    // the dyno's response breaks HTTP: 502
	h27
)

// codes is the one table of router errors: Heroku's code, log description,
// level and socket tag, the client's status, and the error page's hint.
var codes = [...]struct {
	name, desc string
	level      string // Heroku logs H27 as a warning
	sock       string // Heroku's "sock=" prefix, where it writes one
	status     int
	hint       string
}{
	h10: {"H10", "App crashed", "error", "", 503,
		"Every web dyno has crashed and none is starting. The dyno logs show why."},
	h12: {"H12", "Request timeout", "error", "", 503,
		"The web dyno did not start a response in time. It may still be working on the request."},
	h13: {"H13", "Connection closed without response", "error", "", 503,
		"The web dyno accepted the connection and closed it without answering."},
	h14: {"H14", "No web processes running", "error", "", 503,
		"No web dyno is running: the Procfile has no web process, or web is scaled to 0."},
	h15: {"H15", "Idle connection", "error", "", 503,
		"The web dyno stopped sending its response for too long."},
	h18: {"H18", "Server Request Interrupted", "error", "backend", 503,
		"The web dyno closed the connection in the middle of the request or response."},
	h19: {"H19", "Backend connection timeout", "error", "", 503,
		"The router could not connect to a web dyno in time."},
	h20: {"H20", "App boot timeout", "error", "", 503,
		"No web dyno came up in time while this request waited."},
	h21: {"H21", "Backend connection refused", "error", "", 503,
		"The web dyno refused the connection: is it listening on $PORT?"},
	h25: {"H25", "HTTP restriction", "error", "", 400,
		"The request breaks HTTP's rules or the router's limits: request line and each header line at most 8192 bytes, at most 1000 headers."},
	h25method: {"H25", "HTTP restriction", "error", "", 405,
		"The router passes requests on to the app; it does not open CONNECT tunnels."},
	h25proto: {"H25", "HTTP restriction", "error", "", 505,
		"The router speaks HTTP/1.1 (and 1.0) to clients."},
	h25bad: {"H25", "HTTP restriction", "error", "", 502,
		"The web dyno's response breaks HTTP, so the router did not pass it on."},
	h27: {"H27", "Client Request Interrupted", "warning", "client", 499,
		"The client went away before the response."},
}

// writeErrorPage answers with the router's error page for c.
func writeErrorPage(w http.ResponseWriter, c hcode, detail, requestID string) {
	e := codes[c]
	title := "Application error"
	if e.status/100 == 4 {
		title = "Bad request"
	}
	if detail != "" {
		detail = ": " + detail
	}
	page := fmt.Sprintf(pageTemplate, title, title, e.name, e.desc, html.EscapeString(detail),
		html.EscapeString(e.hint), html.EscapeString(requestID))

	h := w.Header()
	clear(h) // drop anything copied from a backend response
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(e.status)
	_, _ = io.WriteString(w, page)
}

// pageTemplate is Heroku's error page in spirit: plain, centred, no
// external assets (the dynos may be down, and so may the network).
const pageTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>
html,body{height:100%%;margin:0}
body{display:flex;align-items:center;justify-content:center;background:#f7f8fb;color:#3f3f44;
font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:34rem;padding:2rem;text-align:center}
h1{font-size:1.6rem;font-weight:600;margin:0 0 1rem;color:#79589f}
.code{font-family:ui-monospace,Menlo,Consolas,monospace;background:#fff;border:1px solid #e3e5ec;
border-radius:6px;padding:.5rem 1rem;display:inline-block}
.id{font-size:.8rem;color:#8c8e95}
</style></head><body><main>
<h1>%s</h1>
<p class="code">%s · %s%s</p>
<p>%s</p>
<p class="id">Request ID %s</p>
</main></body></html>
`
