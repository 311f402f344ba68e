package router

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// An SSE stream arrives event by event: the dyno sends the next event only
// after the client has seen the previous one through the router.
func TestServerSentEvents(t *testing.T) {
	t.Parallel()
	next := make(chan struct{})
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 1; i <= 3; i++ {
			fmt.Fprintf(w, "data: event %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	res, err := client(t).Get(rt.url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	br := bufio.NewReader(res.Body)
	for i := 1; i <= 3; i++ {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if want := fmt.Sprintf("data: event %d\n", i); line != want {
			t.Fatalf("got %q, want %q", line, want)
		}
		br.ReadString('\n') // blank line ending the event
		next <- struct{}{}
	}
}

// Chunked bodies pass both ways, streamed.
func TestChunked(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) == 0 || r.TransferEncoding[0] != "chunked" {
			http.Error(w, "want a chunked request", 400)
			return
		}
		// Echo line by line, flushing each: a chunked response.
		http.NewResponseController(w).EnableFullDuplex()
		br := bufio.NewReader(r.Body)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				io.WriteString(w, strings.ToUpper(line))
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", rt.url+"/echo", pr)
	type result struct {
		res *http.Response
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := client(t).Do(req)
		done <- result{res, err}
	}()
	io.WriteString(pw, "one\n")
	r := <-done // the response starts before the request body has ended
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.res.Body.Close()
	if r.res.ContentLength != -1 || len(r.res.TransferEncoding) == 0 {
		t.Errorf("response not chunked: length %d, %v", r.res.ContentLength, r.res.TransferEncoding)
	}
	br := bufio.NewReader(r.res.Body)
	for _, word := range []string{"one", "two", "three"} {
		if word != "one" {
			io.WriteString(pw, word+"\n")
		}
		line, err := br.ReadString('\n')
		if err != nil || line != strings.ToUpper(word)+"\n" {
			t.Fatalf("got %q, %v", line, err)
		}
	}
	pw.Close()
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("after the end: %q, %v", rest, err)
	}
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsEcho is a dyno with a minimal WebSocket echo (RFC 6455, text frames).
func wsEcho() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "websocket only", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		brw.Flush()
		for {
			op, msg, err := wsRead(brw.Reader)
			if err != nil || op == 0x8 { // close
				return
			}
			if err := wsWrite(c, op, msg, false); err != nil {
				return
			}
		}
	})
}

// wsWrite writes one final frame, masked as clients must.
func wsWrite(w io.Writer, op byte, msg []byte, mask bool) error {
	hdr := []byte{0x80 | op, 0}
	switch n := len(msg); {
	case n < 126:
		hdr[1] = byte(n)
	case n < 1<<16:
		hdr[1] = 126
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr[1] = 127
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	payload := msg
	if mask {
		hdr[1] |= 0x80
		var key [4]byte
		rand.Read(key[:])
		hdr = append(hdr, key[:]...)
		payload = make([]byte, len(msg))
		for i := range msg {
			payload[i] = msg[i] ^ key[i%4]
		}
	}
	_, err := w.Write(append(hdr, payload...))
	return err
}

func wsRead(r *bufio.Reader) (op byte, msg []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, err = io.ReadFull(r, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, err = io.ReadFull(r, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	if err != nil {
		return 0, nil, err
	}
	var key [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	msg = make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range msg {
			msg[i] ^= key[i%4]
		}
	}
	return h[0] & 0x0f, msg, nil
}

func TestWebSocketEcho(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", wsEcho())
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})

	c, err := net.Dial("tcp", rt.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", key)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 101 || res.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		t.Fatalf("handshake: %d %v", res.StatusCode, res.Header)
	}
	for i, msg := range []string{"hello", strings.Repeat("x", 300), strings.Repeat("y", 70000)} {
		if err := wsWrite(c, 0x1, []byte(msg), true); err != nil {
			t.Fatal(err)
		}
		op, got, err := wsRead(br)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if op != 0x1 || string(got) != msg {
			t.Fatalf("message %d: echo of %d bytes is op %d, %d bytes", i, len(msg), op, len(got))
		}
	}
	// Close: the dyno hangs up, the router passes the end on, the client
	// closes too, and the exchange is logged.
	wsWrite(c, 0x8, nil, true)
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("after close: %q, %v", rest, err)
	}
	c.Close()
	line := rt.logs.waitFor(t, "path=\"/ws\"")
	if !strings.Contains(line, " status=101 ") || !strings.Contains(line, "at=info ") {
		t.Errorf("router line %s", line)
	}
}

// Shutdown closes WebSockets: net/http's Shutdown would wait on others only.
func TestShutdownClosesWebSocket(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", wsEcho())
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c, err := net.Dial("tcp", rt.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", "dGhlIHNhbXBsZSBub25jZQ==")
	br := bufio.NewReader(c)
	if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != 101 {
		t.Fatalf("handshake: %v", err)
	}
	if err := rt.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Error("websocket still open after Shutdown")
	}
}

// Keep-alive connections to a dyno are reused.
func TestBackendKeepAlive(t *testing.T) {
	t.Parallel()
	conns := make(chan struct{}, 100)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := serveBackend(t, "web.1", l, &http.Server{
		Handler: hello("web.1"),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns <- struct{}{}
			}
		},
	})
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c := client(t)
	for i := 0; i < 50; i++ {
		if res, body := get(t, c, rt.url+"/?i="+strconv.Itoa(i)); res.StatusCode != 200 || body != "Hello, world!" {
			t.Fatalf("request %d: %d %q", i, res.StatusCode, body)
		}
	}
	if n := len(conns); n != 1 {
		t.Errorf("%d connections to the dyno for 50 sequential requests, want 1", n)
	}
}
