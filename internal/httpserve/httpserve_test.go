package httpserve

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// Run serves until its context ends; a stream open then ends with it
// (not after the grace), Run returns nil and the port is closed.
func TestRunEndsWithItsContext(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	streaming := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first line\n"))
		w.(http.Flusher).Flush()
		close(streaming)
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- (&Server{Handler: h, Listener: l, Grace: time.Hour}).Run(ctx) }()

	resp, err := http.Get("http://" + l.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "first line\n" {
		t.Fatalf("stream: %q, %v", line, err)
	}
	<-streaming
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run = %v after its context ended, want nil", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run still serves a minute after its context ended (it waits for the stream's grace)")
	}
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		c.Close()
		t.Error("the port still accepts after Run returned")
	}
}

// A listener that fails ends Run with its error, without ctx ending.
func TestRunReturnsTheListenersFailure(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() {
		ran <- (&Server{Handler: http.NotFoundHandler(), Listener: l, Grace: time.Second}).Run(context.Background())
	}()
	l.Close()
	select {
	case err := <-ran:
		if err == nil {
			t.Fatal("Run = nil after its listener failed")
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return a minute after its listener failed")
	}
}
