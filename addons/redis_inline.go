package addons

import (
	"bytes"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Redis accepts "inline" commands, a line of space-separated words
// (`PING\r\n`, as typed in nc or telnet, sent by redis-benchmark's
// PING_INLINE and found in redis-cli --pipe input); miniredis reads only
// RESP arrays and drops the connection on anything else. inlineConn sits
// between the client's socket and miniredis: RESP arrays pass through as
// they are, inline lines are rewritten as arrays.
type inlineConn struct {
	net.Conn
	out     []byte // translated bytes not yet read by miniredis; starts with the preamble
	in      []byte // client bytes not yet translated
	buf     []byte
	state   int
	elems   int // bulks left in the current array
	bulk    int // bytes (with CRLF) left in the current bulk
	protoOK bool
	// protoErr builds the command that reports a protocol error (our hook
	// answers it, then closes the connection).
	protoErr func(msg string) []byte

	// Replies to pipelined commands go out together. miniredis flushes
	// after every command, a write(2) each; Redis answers what one read
	// brought in with one write. received counts the whole commands
	// translated (the preamble is the first), started those our hook has
	// begun; while a later command has been received, a reply waits in
	// wbuf, and the hook sends wbuf before the last received command runs
	// and before one that may block (see startCommand).
	received atomic.Int64
	started  atomic.Int64
	wmu      sync.Mutex
	wbuf     []byte
}

// inlineMaxPending bounds the replies held back for one connection.
const inlineMaxPending = 64 << 10

// Write sends a reply, or holds it while the connection has more received
// commands still to run.
func (c *inlineConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.started.Load() < c.received.Load() && len(c.wbuf)+len(p) <= inlineMaxPending {
		c.wbuf = append(c.wbuf, p...)
		return len(p), nil
	}
	if len(c.wbuf) > 0 {
		c.wbuf = append(c.wbuf, p...)
		_, err := c.Conn.Write(c.wbuf)
		c.wbuf = c.wbuf[:0]
		return len(p), err
	}
	return c.Conn.Write(p)
}

// flushHeld sends the replies held back.
func (c *inlineConn) flushHeld() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.wbuf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	if cap(c.wbuf) > inlineMaxPending {
		c.wbuf = nil
	}
	return err
}

// startCommand is called by our hook as each received command begins:
// held replies go out before the last received command runs (so nothing
// waits for a command that never comes) and before one that may block
// (its predecessors' replies must not wait for another client's write).
func (c *inlineConn) startCommand(mayBlock bool) {
	if n := c.started.Add(1); n >= c.received.Load() || mayBlock {
		c.flushHeld()
	}
}

// Close sends what is held back, unless a write is under way (it may be
// stuck on a client that does not read: closing is what frees it), then
// closes.
func (c *inlineConn) Close() error {
	if c.wmu.TryLock() {
		if len(c.wbuf) > 0 {
			c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			c.Conn.Write(c.wbuf)
			c.wbuf = nil
		}
		c.wmu.Unlock()
	}
	return c.Conn.Close()
}

const (
	inlineStart   = iota // at the start of a command
	inlineArray          // in an array, before a bulk's "$len" line
	inlineBulk           // in a bulk's payload
	inlineBroken         // unparseable: pass through, miniredis closes
	inlineDiscard        // after a protocol error: ignored until closed
)

// inlineMaxLine is redis-server's PROTO_INLINE_MAX_SIZE.
const inlineMaxLine = 64 * 1024

func newInlineConn(c net.Conn, preamble []byte, protoErr func(string) []byte) *inlineConn {
	ic := &inlineConn{Conn: c, out: preamble, buf: make([]byte, 16*1024), protoErr: protoErr}
	ic.received.Store(1) // the preamble
	return ic
}

// Read is called only by miniredis' reader goroutine. What a socket read
// brings is translated in place when it holds whole commands (the common
// case), and out is reused, so a command costs no copies beyond the one
// into miniredis' buffer.
func (c *inlineConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		n, err := c.Conn.Read(c.buf)
		aliased := len(c.in) == 0
		if aliased {
			c.in = c.buf[:n]
		} else {
			c.in = append(c.in, c.buf[:n]...)
		}
		c.translate()
		if aliased && len(c.in) > 0 {
			c.in = append([]byte(nil), c.in...) // a partial line: keep it past the next read into buf
		}
		if err != nil && len(c.out) == 0 {
			return 0, err
		}
	}
	n := copy(p, c.out)
	rest := copy(c.out, c.out[n:])
	c.out = c.out[:rest]
	if rest == 0 && cap(c.out) > inlineMaxPending {
		c.out = nil // drop a large buffer
	}
	return n, nil
}

// translate moves what it can from in to out.
func (c *inlineConn) translate() {
	for len(c.in) > 0 {
		switch c.state {
		case inlineDiscard:
			c.in = nil
		case inlineBroken:
			c.emit(len(c.in))
		case inlineBulk:
			n := min(c.bulk, len(c.in))
			c.emit(n)
			if c.bulk -= n; c.bulk == 0 {
				c.nextElem()
			}
		case inlineStart, inlineArray:
			end := bytes.IndexByte(c.in, '\n')
			if end < 0 {
				if len(c.in) > inlineMaxLine {
					c.fail("ERR Protocol error: too big inline request")
				}
				return
			}
			line := c.in[:end+1]
			switch {
			case c.state == inlineArray && line[0] == '$':
				n, err := strconv.Atoi(string(bytes.TrimRight(line[1:], "\r\n")))
				if err != nil || n < 0 {
					c.state = inlineBroken
					continue
				}
				c.emit(len(line))
				c.bulk, c.state = n+2, inlineBulk
			case c.state == inlineArray:
				c.state = inlineBroken
			case line[0] == '*':
				n, err := strconv.Atoi(string(bytes.TrimRight(line[1:], "\r\n")))
				if err != nil {
					c.state = inlineBroken
					continue
				}
				c.emit(len(line))
				if n > 0 {
					c.elems, c.state = n, inlineArray
				}
			default:
				c.in = c.in[len(line):]
				args, ok := splitInlineArgs(string(bytes.TrimRight(line, "\r\n")))
				if !ok {
					c.fail("ERR Protocol error: unbalanced quotes in request")
					return
				}
				if len(args) > 0 { // redis-server skips empty lines
					c.out = respBulks(args).appendResp(c.out, false)
					c.received.Add(1)
				}
			}
		}
	}
}

func (c *inlineConn) emit(n int) {
	c.out = append(c.out, c.in[:n]...)
	c.in = c.in[n:]
}

func (c *inlineConn) nextElem() {
	if c.elems--; c.elems > 0 {
		c.state = inlineArray
	} else {
		c.state = inlineStart
		c.received.Add(1)
	}
}

// fail reports a protocol error to the client, then ignores the rest.
func (c *inlineConn) fail(msg string) {
	c.out = append(c.out, c.protoErr(msg)...)
	c.received.Add(1)
	c.in = nil
	c.state = inlineDiscard
}

// splitInlineArgs splits a line as redis-server's sdssplitargs does:
// words separated by spaces, "double quotes" with \n \r \t \b \a \\ \"
// and \xHH escapes, 'single quotes' with \' only; a closing quote must be
// followed by a space or the end.
func splitInlineArgs(line string) ([]string, bool) {
	var args []string
	i := 0
	for {
		for i < len(line) && isInlineSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return args, true
		}
		var cur []byte
		inDQ, inSQ := false, false
	word:
		for ; ; i++ {
			if inDQ {
				if i == len(line) {
					return nil, false
				}
				switch ch := line[i]; {
				case ch == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					v, _ := strconv.ParseUint(line[i+2:i+4], 16, 8)
					cur = append(cur, byte(v))
					i += 3
				case ch == '\\' && i+1 < len(line):
					i++
					switch e := line[i]; e {
					case 'n':
						cur = append(cur, '\n')
					case 'r':
						cur = append(cur, '\r')
					case 't':
						cur = append(cur, '\t')
					case 'b':
						cur = append(cur, '\b')
					case 'a':
						cur = append(cur, '\a')
					default:
						cur = append(cur, e)
					}
				case ch == '"':
					if i+1 < len(line) && !isInlineSpace(line[i+1]) {
						return nil, false
					}
					i++
					break word
				default:
					cur = append(cur, ch)
				}
				continue
			}
			if inSQ {
				if i == len(line) {
					return nil, false
				}
				switch ch := line[i]; {
				case ch == '\\' && i+1 < len(line) && line[i+1] == '\'':
					cur = append(cur, '\'')
					i++
				case ch == '\'':
					if i+1 < len(line) && !isInlineSpace(line[i+1]) {
						return nil, false
					}
					i++
					break word
				default:
					cur = append(cur, ch)
				}
				continue
			}
			if i == len(line) {
				break
			}
			switch ch := line[i]; {
			case isInlineSpace(ch):
				break word
			case ch == '"':
				inDQ = true
			case ch == '\'':
				inSQ = true
			default:
				cur = append(cur, ch)
			}
		}
		args = append(args, string(cur))
	}
}

func isInlineSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || c == 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
