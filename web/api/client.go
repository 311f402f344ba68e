package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/dynobox/dynobox/runner"
)

// SocketPath is where the API of the app with state directory stateDir
// listens. Unix socket paths are limited to about 107 bytes, so a deep
// state directory gets a socket under the temp dir named by its hash.
func SocketPath(stateDir string) string {
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		abs = stateDir
	}
	p := filepath.Join(abs, "api.sock")
	if len(p) < 100 {
		return p
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(os.TempDir(), "dynobox-"+hex.EncodeToString(sum[:8])+".sock")
}

// NotRunningError says no dynobox serves the app.
type NotRunningError struct{ AppDir string }

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("no dynobox is running for %s — start it with \"dynobox start\"", e.AppDir)
}

// Client talks to a running dynobox over its Unix socket.
type Client struct {
	appDir string
	http   *http.Client

	// With a fallback, requests that find no dynobox are served in-process
	// from the app's saved state (OfflineHandler).
	fallback func() (http.Handler, func(), error)
	offline  http.Handler
	closeOff func()
	stopped  bool
}

// NewClient returns a client for the app whose state is in stateDir.
func NewClient(appDir, stateDir string) *Client {
	sock := SocketPath(stateDir)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}
	return &Client{appDir: appDir, http: &http.Client{Transport: tr}}
}

// WithFallback makes c answer from the handler open returns when no
// dynobox runs: the verbs that work on a stopped app pass one serving its
// saved state. open runs once, at the first request that finds nothing
// running; its func closes what it opened (Close calls it). Requests that
// handler does not know still fail with NotRunningError.
func (c *Client) WithFallback(open func() (http.Handler, func(), error)) *Client {
	c.fallback = open
	return c
}

// Stopped reports whether an answer came from the saved state because no
// dynobox was running.
func (c *Client) Stopped() bool { return c.stopped }

// Close releases what the fallback opened.
func (c *Client) Close() {
	if c.closeOff != nil {
		c.closeOff()
		c.closeOff = nil
	}
}

// send makes one request and returns the response when it is 200 OK;
// any other reply becomes its error: for a 400, what the API blamed on the
// request, a *runner.InputError, as it was on the server.
func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var payload []byte
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://dynobox"+path, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		err = c.dialError(err)
		var nr *NotRunningError
		if c.fallback == nil || !errors.As(err, &nr) {
			return nil, err
		}
		if resp, err = c.serveOffline(ctx, method, path, payload); err != nil {
			return nil, err
		}
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	var e errorBody
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode == http.StatusBadRequest {
		return nil, &runner.InputError{Err: errors.New(e.Error)}
	}
	return nil, fmt.Errorf("%s", e.Error)
}

// serveOffline answers a request from the fallback handler, in-process.
func (c *Client) serveOffline(ctx context.Context, method, path string, payload []byte) (*http.Response, error) {
	if c.offline == nil {
		h, closeFn, err := c.fallback()
		if err != nil {
			return nil, err
		}
		c.offline, c.closeOff = h, closeFn
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://dynobox"+path, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	rec := &recorder{header: http.Header{}}
	c.offline.ServeHTTP(rec, req)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	if rec.code == http.StatusNotFound || rec.code == http.StatusMethodNotAllowed {
		return nil, &NotRunningError{c.appDir} // needs running dynos
	}
	c.stopped = true
	return &http.Response{StatusCode: rec.code, Header: rec.header, Body: io.NopCloser(&rec.body)}, nil
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *Client) dialError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return &NotRunningError{c.appDir}
	}
	return err
}

func (c *Client) call(method, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return c.do(ctx, method, path, body, out)
}

// Info, PS, Config, Releases: GETs.
func (c *Client) Info(out any) error     { return c.call("GET", "/v1/info", nil, out) }
func (c *Client) PS(out *PS) error       { return c.call("GET", "/v1/ps", nil, out) }
func (c *Client) Config(out any) error   { return c.call("GET", "/v1/config", nil, out) }
func (c *Client) Releases(out any) error { return c.call("GET", "/v1/releases", nil, out) }

// Deploy builds, releases and swaps the dynos; it waits as long as that
// takes (the server bounds the build and the release phase).
func (c *Client) Deploy(out any) error {
	return c.do(context.Background(), "POST", "/v1/deploy", struct{}{}, out)
}

// ReleaseSlug releases pushed build id's slug and swaps the dynos to it;
// it waits as long as the release phase and the swap take.
func (c *Client) ReleaseSlug(id string, out any) error {
	return c.do(context.Background(), "POST", "/v1/releases/slug", SlugRelease{BuildID: id}, out)
}

// Delete sends a DELETE to path and decodes the reply into out.
func (c *Client) Delete(path string, out any) error { return c.call("DELETE", path, nil, out) }

// Call sends method to path with body and decodes the reply into out.
func (c *Client) Call(method, path string, body, out any) error {
	return c.call(method, path, body, out)
}

// Post sends body to path and decodes the reply into out.
func (c *Client) Post(path string, body, out any) error { return c.call("POST", path, body, out) }

// Logs streams log lines to fn until the stream ends (or ctx ends, with tail).
func (c *Client) Logs(ctx context.Context, q url.Values, fn func(LogLine) error) error {
	return c.LogsFollowing(ctx, q, func() {}, fn)
}

// LogsFollowing is Logs, calling subscribed once the server follows the
// log (with tail=1: every line from then on will come).
func (c *Client) LogsFollowing(ctx context.Context, q url.Values, subscribed func(), fn func(LogLine) error) error {
	resp, err := c.send(ctx, "GET", "/v1/logs?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	subscribed()
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l LogLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("bad log line from dynobox: %v", err)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}
