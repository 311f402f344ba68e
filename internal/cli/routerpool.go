package cli

import (
	"net"
	"strconv"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/web/router"
)

// webPool shows the supervisor's web dynos to the router.
type webPool struct{ sup *runner.Supervisor }

func (p webPool) Backends() []router.Backend {
	up, _ := p.sup.Web()
	out := make([]router.Backend, len(up))
	for i, d := range up {
		out[i] = router.Backend{Dyno: d.Name, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(d.Port))}
	}
	return out
}

func (p webPool) State() router.PoolState {
	_, st := p.sup.Web()
	switch st {
	case runner.WebReady:
		return router.Ready
	case runner.WebStarting:
		return router.Starting
	case runner.WebCrashed:
		return router.Crashed
	}
	return router.NoWeb
}

func (p webPool) Changed() <-chan struct{} { return p.sup.Changed() }
