// Package ports finds TCP ports on the loopback interface for dynobox's
// own children: dynos, the release phase, one-off dynos, add-on servers,
// and the benchmark tools.
//
// Its contract: it only asks the kernel (listen, then close at once) and
// never keeps a port; a port it reports free may be taken by someone else
// before the caller binds it, so callers that can bind themselves should,
// and the others must report a bind failure as such. It never prints.
package ports

import (
	"fmt"
	"net"
	"strconv"
)

// Pick returns a port on 127.0.0.1 that the kernel reports free now.
func Pick() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Available reports whether 127.0.0.1:port can be bound now.
func Available(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
