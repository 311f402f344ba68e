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
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Pick returns a port on 127.0.0.1 that the kernel reports free now. It
// draws above the kernel's ephemeral range (ip_local_port_range, 32768 to
// 60999 by default) where it can: a port from that range can be handed,
// before the caller binds it, to any outgoing connection on the machine
// (a dyno's, the router's own to dynos), and then the dyno fails with
// "address in use". Below the range are the ports people choose.
//
// It does not hand out a port it handed out among its last recentPicks:
// callers that pick two ports before binding either (an add-on's plain
// and TLS ports, or add-ons starting side by side) get two ports.
func Pick() (int, error) {
	if lo := ephemeralHigh() + 1; lo > 1 && 65536-lo >= 1000 {
		for range 64 {
			port := lo + rand.IntN(65536-lo)
			if !recent.has(port) && Available(port) {
				recent.add(port)
				return port, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	recent.add(port)
	return port, nil
}

// recentPicks is how many of its last ports Pick avoids: enough for every
// port a start picks before binding them.
const recentPicks = 256

var recent picks

// picks is a ring of the ports Pick handed out last.
type picks struct {
	mu   sync.Mutex
	ring [recentPicks]int
	next int
}

func (p *picks) has(port int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.ring[:], port)
}

func (p *picks) add(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ring[p.next] = port
	p.next = (p.next + 1) % recentPicks
}

// ephemeralHigh is the last port of the kernel's ephemeral range (60999
// by default on Linux), 0 when it cannot be read.
func ephemeralHigh() int {
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) != 2 {
		return 0
	}
	high, _ := strconv.Atoi(f[1])
	return high
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
