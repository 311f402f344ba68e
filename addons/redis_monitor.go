package addons

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2/server"
)

// MONITOR streams every command the server receives to the monitoring
// clients, in redis-server's format:
//
//	+1700000000.123456 [0 127.0.0.1:53210] "SET" "key" "value"
//
// Commands are shown upper-cased (our hook sees them so), and AUTH and
// HELLO are left out, as Redis leaves them out to keep passwords off it.
func (s *redisServer) cmdMonitorFor(c *server.Peer, cl *redisClient, _ []string) {
	cl.monitor = true
	s.monitors.Store(c, cl)
	c.OnDisconnect(func() { s.monitors.Delete(c) })
	s.monitoring.Add(1)
	c.OnDisconnect(func() { s.monitoring.Add(-1) })
	c.WriteOK()
}

// feedMonitors sends one command to the monitoring clients.
func (s *redisServer) feedMonitors(cl *redisClient, cmd string, args []string) {
	if s.monitoring.Load() == 0 || cmd == "AUTH" || cmd == "HELLO" {
		return
	}
	now := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "%d.%06d [%d %s]", now.Unix(), now.Nanosecond()/1000, cl.currentDB(), cl.addr)
	for _, a := range append([]string{cmd}, args...) {
		b.WriteByte(' ')
		b.WriteString(monitorQuote(a))
	}
	line := b.String()
	s.monitors.Range(func(k, _ any) bool {
		p := k.(*server.Peer)
		p.WriteInline(line)
		p.Flush()
		return true
	})
}

// monitorQuote quotes an argument as redis-server's sdscatrepr does.
func monitorQuote(a string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(a); i++ {
		switch ch := a[i]; ch {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(ch)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		default:
			if ch < 0x20 || ch >= 0x7f {
				b.WriteString(`\x` + strconv.FormatUint(uint64(ch)|0x100, 16)[1:])
			} else {
				b.WriteByte(ch)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
