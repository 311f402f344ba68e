// Package procfile parses the files that describe a Heroku-style app: the
// Procfile, .env files (with godotenv's semantics) and app.json.
//
// It only reads what it is asked to read and never prints or exits. Every
// problem it reports is positioned as FILE:LINE (or FILE:LINE:COL), and it
// reports every problem in a file, not only the first.
package procfile

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problem is one positioned error or warning.
type Problem struct {
	File      string
	Line, Col int // 1-based; 0 when unknown
	Msg       string
}

// Error renders the problem as FILE:LINE: msg, FILE:LINE:COL: msg or, when
// the line is unknown, FILE: msg.
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
		if p.Col > 0 {
			b.WriteString(":" + strconv.Itoa(p.Col))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

func (p Problem) String() string { return p.Error() }

// ErrorList is every problem found in one or more files, in file order.
type ErrorList []Problem

// Error joins the problems one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, p := range l {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the individual Problems.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, p := range l {
		errs[i] = p
	}
	return errs
}

// Err returns nil for an empty list, so that a nil ErrorList never becomes a
// non-nil error interface.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

const bom = "\ufeff"

// lines maps byte offsets to positions. It indexes line starts on first use,
// so that a file with many problems is not rescanned for each.
type lines struct {
	data   []byte
	starts []int // offset of the first byte of each line
}

// pos returns the 1-based line and column of a byte offset; the column counts
// characters, as editors do.
func (l *lines) pos(off int) (line, col int) {
	if l.starts == nil {
		l.starts = []int{0}
		for i, c := range l.data {
			if c == '\n' {
				l.starts = append(l.starts, i+1)
			}
		}
	}
	off = min(max(off, 0), len(l.data))
	i := sort.SearchInts(l.starts, off+1) - 1 // last start <= off
	return i + 1, 1 + utf8.RuneCount(l.data[l.starts[i]:off])
}
