package logbus_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/logbus/logbustest"
)

// chunkReader returns its data in fixed-size reads, to split lines across reads.
type chunkReader struct {
	data []byte
	size int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(r.size, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func pumpAll(t *testing.T, input string, chunk int) []logbus.Line {
	t.Helper()
	mem := logbustest.NewMemory(0)
	bus := logbus.New(mem)
	go bus.Run(context.Background())
	logbus.Pump(bus, &chunkReader{data: []byte(input), size: chunk}, logbus.SourceApp, "web.1")
	bus.Close()
	return mem.Lines()
}

func texts(lines []logbus.Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Text
	}
	return out
}

func TestPumpSplitsLines(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		input string
		chunk int
		want  []string
	}{
		{"simple", "a\nb\n", 100, []string{"a", "b"}},
		{"split across reads", "hello world\nsecond line\n", 3, []string{"hello world", "second line"}},
		{"last line without newline", "a\nno newline", 4, []string{"a", "no newline"}},
		{"empty lines kept", "a\n\nb\n", 1, []string{"a", "", "b"}},
		{"invalid utf-8 passes through", "ok\xff\xfe\n", 2, []string{"ok\xff\xfe"}},
		{"crlf kept as the app wrote it", "dos\r\n", 10, []string{"dos\r"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := texts(pumpAll(t, c.input, c.chunk))
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestPumpLongLineSplitAtRuneBoundary(t *testing.T) {
	t.Parallel()
	// A line of 150 KiB of 3-byte runes: pieces must be valid UTF-8 and
	// reassemble to the original.
	line := strings.Repeat("€", 50<<10)
	got := texts(pumpAll(t, line+"\nafter\n", 8192))
	if len(got) < 3 || got[len(got)-1] != "after" {
		t.Fatalf("got %d pieces, last %q", len(got), got[len(got)-1])
	}
	joined := strings.Join(got[:len(got)-1], "")
	if joined != line {
		t.Fatalf("reassembled line differs: %d bytes vs %d", len(joined), len(line))
	}
	for i, p := range got[:len(got)-1] {
		if len(p) > logbus.MaxLine {
			t.Errorf("piece %d is %d bytes, over MaxLine", i, len(p))
		}
		if !strings.HasPrefix(p, "€") || !strings.HasSuffix(p, "€") {
			t.Errorf("piece %d cut inside a rune", i)
		}
	}
}

func TestConcurrentPumpsNeverInterleave(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	term := logbus.NewTerminal(&out, logbus.Logplex, false)
	bus := logbus.New(term)
	go bus.Run(context.Background())
	var wg sync.WaitGroup
	const writers, lines = 8, 5000
	for w := 0; w < writers; w++ {
		pr, pw := io.Pipe()
		wg.Add(2)
		go func() { defer wg.Done(); logbus.Pump(bus, pr, logbus.SourceApp, fmt.Sprintf("w.%d", w)) }()
		go func() {
			defer wg.Done()
			for i := 0; i < lines; i++ {
				fmt.Fprintf(pw, "writer %d line %d %s\n", w, i, strings.Repeat("x", i%300))
			}
			pw.Close()
		}()
	}
	wg.Wait()
	bus.Close()
	// Under heavy load the bus may drop lines (and say so with L10): every
	// line must still be whole, in order, and every loss accounted for.
	seen, dropped := map[int]int{}, map[int]int{}
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var ts, proc string
		var w, i int
		if strings.Contains(l, "heroku[logplex]: Error L10") {
			var n int
			var since string
			if _, err := fmt.Sscanf(l[strings.Index(l, "Error L10"):], "Error L10 (output buffer overflow): %d messages dropped since %s from app[w.%d]", &n, &since, &w); err != nil {
				t.Fatalf("bad L10 line %q: %v", l, err)
			}
			dropped[w] += n
			continue
		}
		if _, err := fmt.Sscanf(l, "%s %s writer %d line %d", &ts, &proc, &w, &i); err != nil {
			t.Fatalf("mangled line %q: %v", l, err)
		}
		if proc != fmt.Sprintf("app[w.%d]:", w) {
			t.Fatalf("line from writer %d labelled %s", w, proc)
		}
		if i < seen[w] {
			t.Fatalf("writer %d: line %d out of order", w, i)
		}
		dropped[w] -= i - seen[w] // lines skipped here must be reported as dropped
		seen[w] = i
		if want := strings.Repeat("x", i%300); !strings.HasSuffix(l, " "+want) && want != "" {
			t.Fatalf("line cut: %q", l)
		}
		seen[w]++
	}
	for w := 0; w < writers; w++ {
		if seen[w]+dropped[w] != lines {
			t.Errorf("writer %d: last line %d, %d more reported dropped; want %d lines accounted for", w, seen[w], dropped[w], lines)
		}
	}
}

// stuckSink blocks every write until released, like a terminal nobody reads.
type stuckSink struct{ release chan struct{} }

func (s *stuckSink) WriteBatch(*logbus.Batch) { <-s.release }
func (s *stuckSink) Flush()                   {}

func TestSlowSinkDoesNotBlockWriter(t *testing.T) {
	t.Parallel()
	stuck := &stuckSink{release: make(chan struct{})}
	mem := logbustest.NewMemory(0)
	bus := logbus.New(stuck, mem)
	go bus.Run(context.Background())
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() { logbus.Pump(bus, pr, logbus.SourceApp, "flood.1"); close(done) }()
	// Far more batches than the bus holds: the writer must get through anyway.
	wrote := make(chan struct{})
	go func() {
		for i := 0; i < logbus.Capacity*4; i++ {
			fmt.Fprintf(pw, "line %d\n", i)
		}
		close(wrote)
	}()
	select {
	case <-wrote:
	case <-time.After(20 * time.Second):
		t.Fatal("writer blocked behind a stuck sink")
	}
	close(stuck.release)
	for logbus.QueueLen(bus) > 0 { // the sink catches up
		time.Sleep(time.Millisecond)
	}
	fmt.Fprintln(pw, "after the jam")
	pw.Close()
	<-done
	bus.Close()
	if _, ok := mem.WaitFor("", "logplex", "Error L10 (output buffer overflow)", time.Second); !ok {
		t.Fatalf("no L10 line reporting the dropped lines; got %d lines", len(mem.Lines()))
	}
	if _, ok := mem.WaitFor("", "flood.1", "after the jam", time.Second); !ok {
		t.Fatal("the line after the jam was lost")
	}
}

func TestTerminalFormats(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 8, 41, 17, 123456000, time.UTC)
	batches := []*logbus.Batch{
		{Time: at, Source: logbus.SourceHeroku, Process: "web.1", Data: []byte("State changed from starting to up\n")},
		{Time: at, Source: logbus.SourceApp, Process: "web.1", Data: []byte("one\ntwo\n")},
	}
	cases := []struct {
		format logbus.Format
		color  bool
		want   string
	}{
		{logbus.Logplex, false, "2026-11-26T08:41:17.123456+00:00 heroku[web.1]: State changed from starting to up\n" +
			"2026-11-26T08:41:17.123456+00:00 app[web.1]: one\n" +
			"2026-11-26T08:41:17.123456+00:00 app[web.1]: two\n"},
		{logbus.Compact, false, "08:41:17 heroku[web.1]    | State changed from starting to up\n" +
			"08:41:17 app[web.1]       | one\n" +
			"08:41:17 app[web.1]       | two\n"},
		{logbus.Compact, true, "\x1b[36m08:41:17 heroku[web.1]    |\x1b[0m State changed from starting to up\n" +
			"\x1b[36m08:41:17 app[web.1]       |\x1b[0m one\n" +
			"\x1b[36m08:41:17 app[web.1]       |\x1b[0m two\n"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		term := logbus.NewTerminal(&out, c.format, c.color)
		logbus.SetLocation(term, time.UTC)
		term.Align("heroku[worker.1]")
		for _, b := range batches {
			term.WriteBatch(b)
		}
		term.Flush()
		if out.String() != c.want {
			t.Errorf("format %d color %v:\ngot:\n%s\nwant:\n%s", c.format, c.color, out.String(), c.want)
		}
	}
}

func BenchmarkPumpToTerminal(b *testing.B) {
	var payload bytes.Buffer
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&payload, "line %d\n", i)
	}
	b.SetBytes(int64(payload.Len()))
	for b.Loop() {
		bus := logbus.New(logbus.NewTerminal(io.Discard, logbus.Compact, false))
		go bus.Run(context.Background())
		logbus.Pump(bus, bytes.NewReader(payload.Bytes()), logbus.SourceApp, "spam.1")
		bus.Close()
	}
}

// Run ends with its context like every loop: what was queued before is
// still delivered, and the bus takes nothing after.
func TestRunEndsWithItsContext(t *testing.T) {
	t.Parallel()
	stuck := &stuckSink{release: make(chan struct{})}
	mem := logbustest.NewMemory(0)
	bus := logbus.New(stuck, mem)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bus.Run(ctx) }()
	for i := range 3 {
		bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprint("queued ", i))
	}
	cancel()
	close(stuck.release) // the sinks drain only now, after ctx ended
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after its context ended")
	}
	if got := texts(mem.Lines()); strings.Join(got, "|") != "queued 0|queued 1|queued 2" {
		t.Fatalf("delivered %q, want every line queued before the end", got)
	}
	if bus.Publish(&logbus.Batch{Source: logbus.SourceApp, Process: "web.1", Data: []byte("late\n")}, 0) {
		t.Fatal("the bus took a batch after Run ended")
	}
	bus.Close() // returns at once: Run is done
}
