package procfile

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// Limits on input. The files are a few lines long; a path that points
// elsewhere (-f /dev/zero, a binary, a log) is refused with its name
// rather than read until memory runs out.
const (
	// MaxFileSize caps a Procfile, an env file or app.json.
	MaxFileSize = 1 << 20
	// MaxValueSize caps one config var value or Procfile command. Heroku
	// allows 32 kB for all of an app's config vars together; Linux refuses
	// to start a process with one environment string over 128 KiB.
	MaxValueSize = 32 << 10
	// MaxQuantity caps the dynos of one type, as the command line does.
	MaxQuantity = 100
)

// readAll reads a whole input file, refusing one over MaxFileSize or one
// holding a NUL byte (not a text file).
func readAll(file string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if len(data) > MaxFileSize {
		return nil, ErrorList{{File: file, Msg: fmt.Sprintf("larger than %d KiB: not a Procfile, env file or app.json; check the path", MaxFileSize>>10)}}
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		line, col := (&lines{data: data}).pos(i)
		return nil, ErrorList{{File: file, Line: line, Col: col, Msg: "NUL byte: not a text file; check the path"}}
	}
	return data, nil
}

// readFile is os.ReadFile through readAll.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(path, f)
}

// valueProblem says what is wrong with a config var value or a command
// that a process cannot be started with, or "".
func valueProblem(what, v string) string {
	switch {
	case strings.IndexByte(v, 0) >= 0:
		return fmt.Sprintf("%s holds a NUL byte, which no process environment or command line can carry", what)
	case len(v) > MaxValueSize:
		return fmt.Sprintf("%s is %d KiB long; at most %d KiB (Heroku allows 32 kB for all config vars together)", what, (len(v)+1023)>>10, MaxValueSize>>10)
	}
	return ""
}
