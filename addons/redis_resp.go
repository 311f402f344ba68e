package addons

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// respValue is one RESP2/RESP3 value, kept with its wire type so replies
// captured from a real server (redis_commands.resp) can be sent back in
// either protocol.
type respValue struct {
	kind  byte // '+' '-' ':' '$' '*' '%' '~' '_' ',' '#'
	str   string
	num   int64
	elems []respValue // arrays and sets; maps hold key, value, key, value…
}

func respBulk(s string) respValue        { return respValue{kind: '$', str: s} }
func respStatus(s string) respValue      { return respValue{kind: '+', str: s} }
func respInt(n int64) respValue          { return respValue{kind: ':', num: n} }
func respArray(v ...respValue) respValue { return respValue{kind: '*', elems: v} }
func respSet(v ...respValue) respValue   { return respValue{kind: '~', elems: v} }

// respMap builds a map from alternating keys and values.
func respMap(kv ...respValue) respValue { return respValue{kind: '%', elems: kv} }

func respBulks(ss []string) respValue {
	v := respValue{kind: '*', elems: make([]respValue, len(ss))}
	for i, s := range ss {
		v.elems[i] = respBulk(s)
	}
	return v
}

// mapGet returns the value under key in a map (or RESP2 flat pair array).
func (v respValue) mapGet(key string) (respValue, bool) {
	for i := 0; i+1 < len(v.elems); i += 2 {
		if v.elems[i].str == key {
			return v.elems[i+1], true
		}
	}
	return respValue{}, false
}

// appendResp encodes v; for RESP2 peers maps become flat arrays, sets
// arrays, null a null bulk and doubles bulk strings, as Redis does.
func (v respValue) appendResp(b []byte, resp3 bool) []byte {
	switch v.kind {
	case '+', '-':
		b = append(b, v.kind)
		b = append(b, v.str...)
		return append(b, '\r', '\n')
	case ':':
		b = append(b, ':')
		b = strconv.AppendInt(b, v.num, 10)
		return append(b, '\r', '\n')
	case '$':
		return appendBulk(b, v.str)
	case ',':
		if !resp3 {
			return appendBulk(b, v.str)
		}
		return append(append(append(b, ','), v.str...), '\r', '\n')
	case '#':
		switch {
		case !resp3:
			b = append(b, ':')
			b = strconv.AppendInt(b, v.num, 10)
		case v.num != 0:
			b = append(b, '#', 't')
		default:
			b = append(b, '#', 'f')
		}
		return append(b, '\r', '\n')
	case '_':
		if !resp3 {
			return append(b, "$-1\r\n"...)
		}
		return append(b, "_\r\n"...)
	case '*', '~', '%':
		n := len(v.elems)
		kind := v.kind
		switch {
		case !resp3:
			kind = '*'
		case kind == '%':
			n /= 2
		}
		b = append(b, kind)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, '\r', '\n')
		for _, e := range v.elems {
			b = e.appendResp(b, resp3)
		}
		return b
	}
	panic(fmt.Sprintf("respValue: unknown kind %q", v.kind))
}

func appendBulk(b []byte, s string) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, '\r', '\n')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

var errRespProtocol = errors.New("resp: protocol error")

// readResp reads one value. A null bulk or array ("$-1", "*-1") reads as
// '_'.
func readResp(r *bufio.Reader) (respValue, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return respValue{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return respValue{}, errRespProtocol
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+', '-', ',':
		return respValue{kind: kind, str: body}, nil
	case '_':
		return respValue{kind: '_'}, nil
	case '#':
		v := respValue{kind: '#'}
		if body == "t" {
			v.num = 1
		}
		return v, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return respValue{}, errRespProtocol
		}
		return respInt(n), nil
	case '$':
		return readBulkBody(r, body)
	case '*', '~', '%', '>':
		return readAggregate(r, kind, body)
	}
	return respValue{}, fmt.Errorf("%w: unexpected %q", errRespProtocol, kind)
}

func readBulkBody(r *bufio.Reader, lenText string) (respValue, error) {
	n, err := strconv.Atoi(lenText)
	if err != nil {
		return respValue{}, errRespProtocol
	}
	if n < 0 {
		return respValue{kind: '_'}, nil
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return respValue{}, err
	}
	return respBulk(string(buf[:n])), nil
}

func readAggregate(r *bufio.Reader, kind byte, lenText string) (respValue, error) {
	n, err := strconv.Atoi(lenText)
	if err != nil {
		return respValue{}, errRespProtocol
	}
	if n < 0 {
		return respValue{kind: '_'}, nil
	}
	if kind == '%' {
		n *= 2
	}
	if kind == '>' {
		kind = '*'
	}
	v := respValue{kind: kind, elems: make([]respValue, 0, n)}
	for range n {
		e, err := readResp(r)
		if err != nil {
			return respValue{}, err
		}
		v.elems = append(v.elems, e)
	}
	return v, nil
}
