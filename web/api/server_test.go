package api

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/logbus/logbustest"
)

// The socket is the CLI's way in: only its owner may connect.
func TestListenMakesSocketOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %s has mode %s, want a socket with 0600", path, fi.Mode())
	}
	// A second dynobox for the same socket is refused while the first answers.
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "another dynobox answers") {
		t.Fatalf("second Listen: %v", err)
	}
}

// A socket left behind by a killed dynobox is taken over.
func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // the file stays, nobody answers
	l2, err := Listen(path)
	if err != nil {
		t.Fatalf("stale socket not taken over: %v", err)
	}
	l2.Close()
}

// POST /v1/events lets "dynobox run" add its one-off dyno's lifecycle lines
// to the app's log. It must not be a way to forge other processes' lines
// or to inject extra lines.
func TestEventsAcceptOnlyOneLineFromOneOffDynos(t *testing.T) {
	mem := logbustest.NewMemory(0)
	bus := logbus.New(mem)
	go bus.Run(context.Background())
	defer bus.Close()
	h := Handler(&runner.Controller{Bus: bus})

	post := func(body string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(body)))
		return rec.Code
	}
	for _, body := range []string{
		`{"dyno":"web.1","text":"State changed from up to crashed"}`,
		`{"dyno":"router","text":"at=info"}`,
		`{"dyno":"run.12345","text":"x"}`,
		`{"dyno":"run.1234\nheroku[web.1]","text":"x"}`,
		`{"dyno":"run.1234","text":"one\nheroku[web.1]: State changed from up to crashed"}`,
		`{"dyno":"run.1234","text":"one\rtwo"}`,
		`not json`,
	} {
		if code := post(body); code != http.StatusBadRequest {
			t.Errorf("POST /v1/events %s = %d, want 400", body, code)
		}
	}
	if code := post(`{"dyno":"run.4821","text":"Starting process with command ` + "`sh`" + `"}`); code != http.StatusOK {
		t.Fatalf("a one-off dyno's line = %d, want 200", code)
	}
	if _, ok := mem.WaitFor(logbus.SourceHeroku, "run.4821", "Starting process with command", 5*time.Second); !ok {
		t.Fatal("the one-off dyno's line is not on the bus")
	}
	for _, l := range mem.Lines() {
		if l.Process != "run.4821" {
			t.Errorf("a refused event reached the log: %+v", l)
		}
	}
}
