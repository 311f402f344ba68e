package router

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// observed collects what Config.Observe is told.
type observed struct {
	mu   sync.Mutex
	seen []string
}

func (o *observed) add(status int, code string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d <= 0 {
		code += " no-duration"
	}
	o.seen = append(o.seen, http.StatusText(status)+"/"+code)
}

func (o *observed) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.seen...)
}

// TestObserveReportsEachRequest: the metrics hook gets the status the
// client got and the H-code of a router error, once per request.
func TestObserveReportsEachRequest(t *testing.T) {
	t.Parallel()
	backend, _ := startBackend(t, "web.1", hello("web.1"))
	var ok, fail observed
	rt := startRouter(t, Config{Pool: Static(backend), Observe: ok.add})
	c := client(t)
	get(t, c, rt.url+"/")
	get(t, c, rt.url+"/")
	down := startRouter(t, Config{Pool: newPool(NoWeb), Observe: fail.add})
	get(t, c, down.url+"/")
	eventually(t, "two observations", func() bool { return len(ok.list()) == 2 })
	eventually(t, "one observation", func() bool { return len(fail.list()) == 1 })
	if got := ok.list(); got[0] != "OK/" || got[1] != "OK/" {
		t.Errorf("served: %q", got)
	}
	if got := fail.list(); got[0] != "Service Unavailable/H14" {
		t.Errorf("H14: %q", got)
	}
}
