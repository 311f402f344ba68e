package building

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Until Open the gate answers with the building page; from Open on the
// router's listener gets the connections; when its context ends, Run
// returns and the public port is closed.
func TestGateServesThePageThenTheRouterUntilItsContextEnds(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := New(l, Config{App: "shop", Log: func(string) {}})
	g.SetPhase("building")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()

	url := "http://" + l.Addr().String() + "/"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "shop") {
		t.Fatalf("before Open: %d %q %.200s, want the building page", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	g.Open()
	router := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "from the router") })}
	go router.Serve(g.Listener())
	defer router.Close()
	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "from the router" {
		t.Fatalf("after Open: %d %.200s, want the router's answer", resp.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v after its context ended", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after its context ended")
	}
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		c.Close()
		t.Fatal("the public port still accepts after Run returned")
	}
}
