package ports

import (
	"net"
	"strconv"
	"testing"
)

func TestPickAndAvailable(t *testing.T) {
	t.Parallel()
	port, err := Pick()
	if err != nil {
		t.Fatal(err)
	}
	if port <= 0 || port > 65535 {
		t.Fatalf("Pick returned port %d", port)
	}
	// Above the ephemeral range, where outgoing connections cannot take
	// it before the caller binds it.
	if high := ephemeralHigh(); high > 0 && 65535-high >= 1000 && port <= high {
		t.Errorf("Pick returned %d, inside the ephemeral range (up to %d)", port, high)
	}
	// A port someone listens on is not available; once closed, it is.
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("the picked port %d cannot be bound: %v", port, err)
	}
	if Available(port) {
		t.Errorf("port %d reported available while listened on", port)
	}
	l.Close()
	if !Available(port) {
		t.Errorf("port %d reported taken after its listener closed", port)
	}
}

// Ports picked before any is bound — an add-on's plain and TLS ports, add-ons
// starting side by side — are distinct (drawn at random from ~4,500 ports,
// 256 picks would repeat one almost surely).
func TestPickHandsOutDistinctPorts(t *testing.T) {
	t.Parallel()
	seen := map[int]bool{}
	for range recentPicks {
		port, err := Pick()
		if err != nil {
			t.Fatal(err)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice among %d picks", port, len(seen)+1)
		}
		seen[port] = true
	}
}
