package router

import (
	"io"
	"net"
	"net/http"
	"time"
)

// upgrade connects the client and the dyno after a 101 Switching Protocols
// (WebSocket) and copies bytes both ways until both sides are done, or
// either fails, or the router shuts down.
func (r *Router) upgrade(w http.ResponseWriter, x *exchange, res *http.Response, c *dynoConn) {
	x.status = res.StatusCode
	c.unwatch() // from here the session is tracked for Shutdown instead
	defer c.Close()
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		x.fail(h13)
		writeErrorPage(w, h13, "", x.requestID)
		return
	}
	defer client.Close()
	_ = client.SetDeadline(time.Time{}) // drop net/http's
	c.readBy(time.Time{})
	_ = c.SetWriteDeadline(time.Time{})

	res.Header["Via"] = []string{appendVia(res.Header["Via"])}
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	res.Header.Write(brw)
	brw.WriteString("\r\n")
	if brw.Flush() != nil {
		return
	}

	r.mu.Lock()
	r.upgrades[x] = func() { client.Close(); c.Close() }
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.upgrades, x)
		r.mu.Unlock()
	}()
	select {
	case <-r.closing:
		return // Shutdown began before the session was registered
	default:
	}

	// Each direction ends with EOF (passed on as a half-close) or an error
	// (which ends both).
	errc := make(chan error, 2)
	go func() {
		_, err := io.Copy(c.Conn, brw.Reader) // brw holds what followed the client's head
		if err == nil {
			closeWrite(c.Conn)
		}
		errc <- err
	}()
	var toClient int64
	go func() {
		n, err := io.Copy(client, c.br)
		toClient = n
		if err == nil {
			closeWrite(client)
		}
		errc <- err
	}()
	ended := 1
	if err := <-errc; err == nil {
		<-errc
		ended++
	}
	client.Close()
	c.Close()
	for ; ended < 2; ended++ {
		<-errc
	}
	x.bytes = toClient
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
