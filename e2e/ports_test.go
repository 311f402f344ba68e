package e2e

import (
	"net"
	"strconv"
	"testing"

	"github.com/dynobox/dynobox/web/platform"
)

// blockFree tells whether the ports a dynobox started with public port p
// listens on are free; a taken one would move the dashboard or the
// Platform API (and so HEROKU_HOST) to a port of another block.
func blockFree(p int) bool {
	ok := true
	for _, off := range []int{0, 1, 2, 100, 200, 1000, platform.PortOffset} {
		if !portFree(p + off) {
			ok = false
		}
	}
	return ok
}

// A port block whose Platform API port is taken is not handed out: the
// API would fall back to a random port, and two parallel tests' blocks
// could then meet.
func TestPortBlockIncludesPlatformAPIPort(t *testing.T) {
	t.Parallel()
	p := freePort(t)
	if !blockFree(p) {
		t.Fatalf("freePort handed out %d with a taken port", p)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+platform.PortOffset))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if blockFree(p) {
		t.Fatalf("block %d counts as free with its Platform API port %d taken", p, p+platform.PortOffset)
	}
}
