package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/dynobox/dynobox/runner"
)

// The default dashboard address (the app's port + 1000) taken by another
// process: the dashboard takes a free port and says which. A chosen one
// taken: an error, never another address.
func TestDashboardDefaultPortFallsBack(t *testing.T) {
	t.Parallel()
	holder, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	taken := holder.Addr().(*net.TCPAddr).Port
	if taken <= 1000 {
		t.Fatalf("port %d has no app port 1000 below it", taken) // the kernel hands out ports above 1024
	}
	l, dashboardURL, err := runner.ListenDashboard(fmt.Sprintf("127.0.0.1:%d", taken), taken-1000)
	if err != nil {
		t.Fatalf("default address taken: %v, want a free port instead", err)
	}
	ctl := &runner.Controller{App: &runner.App{Port: taken - 1000}, DashboardURL: dashboardURL}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- dashboardService(ctl, l).Run(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("the dashboard's Run = %v once its context ended, want nil", err)
		}
	}()
	u, err := url.Parse(ctl.DashboardURL)
	if err != nil || u.Hostname() != "127.0.0.1" || u.Port() == fmt.Sprint(taken) || u.Port() == "" {
		t.Fatalf("dashboard URL %q, want 127.0.0.1 on another port than %d", ctl.DashboardURL, taken)
	}
	resp, err := http.Get(ctl.DashboardURL + "static/favicon.svg")
	if err != nil {
		t.Fatalf("the dashboard does not answer at the URL it gave: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %sstatic/favicon.svg = %d", ctl.DashboardURL, resp.StatusCode)
	}

	// --dashboard ADDR names an address: taken means an error.
	if l, url, err := runner.ListenDashboard(fmt.Sprintf("127.0.0.1:%d", taken), 5006); err == nil {
		l.Close()
		t.Fatalf("a taken --dashboard address was replaced by %s", url)
	}
}

// Which Host headers the dashboard answers, by the address it is bound to.
// A DNS-rebinding page reaches the dashboard under a name of its own: only
// loopback names and the bound addresses are accepted.
func TestDashboardAllowedHostsByBinding(t *testing.T) {
	t.Parallel()
	status := func(bound, host string) int {
		h := newDashboard(&runner.Controller{}, bound).Handler()
		r := httptest.NewRequest("GET", "/static/favicon.svg", nil)
		r.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	var ifaces []string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
			ifaces = append(ifaces, n.IP.String())
		}
	}
	refused := []string{"evil.example", "rebind.test", "localhost.evil.example", "0.0.0.0", "203.0.113.9", "::ffff:10.0.0.1"}
	for _, c := range []struct {
		bound   string
		allowed []string
	}{
		{"127.0.0.1", []string{"127.0.0.1", "localhost", "::1"}},
		{"0.0.0.0", append([]string{"127.0.0.1", "localhost"}, ifaces...)},
		{"192.0.2.77", []string{"192.0.2.77", "127.0.0.1", "localhost"}},
	} {
		for _, host := range c.allowed {
			if status(c.bound, net.JoinHostPort(host, "6006")) != http.StatusOK {
				t.Errorf("bound to %s: Host %s refused, want it answered", c.bound, host)
			}
		}
		for _, host := range refused {
			if code := status(c.bound, net.JoinHostPort(host, "6006")); code != http.StatusMisdirectedRequest {
				t.Errorf("bound to %s: Host %s = %d, want 421", c.bound, host, code)
			}
		}
	}
	// Bound to one LAN address, another machine's address is not accepted.
	if code := status("192.0.2.77", "192.0.2.78:6006"); code != http.StatusMisdirectedRequest {
		t.Errorf("bound to 192.0.2.77: Host 192.0.2.78 = %d, want 421", code)
	}
}
