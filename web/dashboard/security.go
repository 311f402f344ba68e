package dashboard

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/dynobox/dynobox/internal/hostcheck"
)

// TokenHeader carries the per-run token on every request that changes
// state or reveals a secret. The page reads the token from its own HTML;
// a page of another origin can neither read that HTML (the same-origin
// policy; no CORS headers are ever sent) nor reach it under a name of its
// own (the Host check below defeats DNS rebinding).
const TokenHeader = "X-Dynobox-Token"

// guard is the dashboard's front door, in this order:
//
//  1. The Host header must name a loopback host (localhost, *.localhost,
//     127.0.0.0/8, ::1) or one allowed with AllowHost; anything else is
//     421 Misdirected Request. A DNS-rebinding page reaches 127.0.0.1 under
//     its own name, so its requests carry that name and stop here.
//  2. A request that is not GET or HEAD, or that reveals a secret, must
//     come from this origin — Origin (when sent) equal to http://HOST and
//     Sec-Fetch-Site (when sent) same-origin — and carry the token in
//     X-Dynobox-Token; otherwise 403. A cross-site form cannot set the
//     header, and a cross-site fetch that tries needs a CORS preflight,
//     which is never granted.
//
// Every reply gets headers that keep the page out of frames and scripts
// of other origins out of the page.
func (d *Dashboard) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		if !d.hostAllowed(r.Host) {
			http.Error(w, "dynobox dashboard: refusing a request for host "+quote(r.Host)+
				": open the dashboard as http://127.0.0.1:PORT/ or http://localhost:PORT/", http.StatusMisdirectedRequest)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		if needsToken(r) {
			if msg := d.checkOrigin(r); msg != "" {
				writeJSON(w, http.StatusForbidden, errorReply{msg})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func needsToken(r *http.Request) bool {
	return (r.Method != http.MethodGet && r.Method != http.MethodHead) || r.URL.Path == "/api/dash/reveal"
}

// checkOrigin says why r may not change state, or "" when it may.
func (d *Dashboard) checkOrigin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(o, "http://"+r.Host) {
		return "cross-origin request refused (Origin " + quote(o) + ")"
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		return "cross-site request refused (Sec-Fetch-Site " + s + ")"
	}
	got := r.Header.Get(TokenHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(d.token)) != 1 {
		return "missing or wrong " + TokenHeader + ": reload the dashboard page"
	}
	return ""
}

// hostAllowed reports whether a Host header names this machine's loopback
// interface (or a host allowed with AllowHost).
func (d *Dashboard) hostAllowed(hostport string) bool {
	return hostcheck.Allowed(hostport, d.hosts)
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < ' ' || r == '"' {
			return '?'
		}
		return r
	}, s) + `"`
}
