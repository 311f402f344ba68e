package procfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The .env parser is a port of godotenv v1.5.1's parser (parser.go) that
// keeps byte offsets, so that every error can name its line, and that
// collects every error instead of stopping at the first. For any input
// godotenv accepts it gives the same values (FuzzEnvMatchesGodotenv checks
// this), with two deliberate differences:
//   - ${VAR} and $VAR that are not defined earlier in the file resolve through
//     the caller's lookup (OS env, earlier files) rather than to "";
//   - a statement with an empty variable name ("=x", or a last line with no
//     "=") is an error; godotenv stores it under the key "".

// ParseEnv parses one env file read from r; file names it in errors. lookup
// (which may be nil) resolves variables not defined earlier in this file.
// The error is an ErrorList.
func ParseEnv(file string, r io.Reader, lookup func(string) (string, bool)) (map[string]string, error) {
	data, err := readAll(file, r)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte(bom))
	src := bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	p := &envParser{file: file, src: src, lookup: lookup, out: map[string]string{}, lines: lines{data: src}}
	p.parse()
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return p.out, nil
}

// ReadEnvFiles reads env files in order; a later file wins over an earlier
// one. Expansion in a file sees, in this order of precedence, the earlier
// lines of that file, the earlier files, then lookup (which may be nil).
// Parse errors of every file are collected into one ErrorList; an error
// opening a file is returned as it is (errors.Is(err, fs.ErrNotExist) works).
func ReadEnvFiles(paths []string, lookup func(string) (string, bool)) (map[string]string, error) {
	merged := map[string]string{}
	seen := func(k string) (string, bool) {
		if v, ok := merged[k]; ok {
			return v, true
		}
		if lookup != nil {
			return lookup(k)
		}
		return "", false
	}
	var errs ErrorList
	for _, path := range paths {
		vals, err := readEnvFile(path, seen)
		var list ErrorList
		switch {
		case errors.As(err, &list):
			errs = append(errs, list...)
			continue
		case err != nil:
			return nil, err
		}
		for k, v := range vals {
			merged[k] = v
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return merged, nil
}

func readEnvFile(path string, lookup func(string) (string, bool)) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseEnv(path, f, lookup)
}

// SplitEnvFlag turns repeated and comma-separated -e values
// (".env,.env.local") into a list of paths, dropping empty items.
func SplitEnvFlag(values []string) []string {
	var paths []string
	for _, v := range values {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				paths = append(paths, p)
			}
		}
	}
	return paths
}

type envParser struct {
	file   string
	src    []byte // CRLF already turned into LF, as godotenv does
	lookup func(string) (string, bool)
	out    map[string]string
	errs   ErrorList
	lines  lines
}

func (p *envParser) errorAt(off int, format string, args ...any) {
	line, _ := p.lines.pos(off)
	p.errs = append(p.errs, Problem{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// skipLine returns the offset of the end of the line holding off, where
// parsing resumes after an error.
func (p *envParser) skipLine(off int) int {
	if i := bytes.IndexByte(p.src[off:], '\n'); i >= 0 {
		return off + i
	}
	return len(p.src)
}

func (p *envParser) parse() {
	pos := 0
	quotedEnd := -1 // where the last quoted value closed, to explain stray text after it
	for {
		if pos = p.statementStart(pos); pos < 0 {
			return
		}
		key, valStart, bad := p.keyName(pos)
		if bad >= 0 {
			p.badKey(pos, bad, quotedEnd)
			pos = p.skipLine(bad)
			continue
		}
		value, next, quoted, ok := p.value(valStart, key)
		if !ok {
			return // an unterminated quote swallows the rest of the file
		}
		if key == "" {
			sep := p.src[pos+bytes.IndexAny(p.src[pos:], "=:")]
			p.errorAt(pos, "missing variable name before %q", string(sep))
		} else if msg := valueProblem("the value of "+key, value); msg != "" {
			p.errorAt(pos, "%s", msg)
		} else {
			p.out[key] = value
		}
		quotedEnd = -1
		if quoted {
			quotedEnd = next
		}
		pos = next
	}
}

// statementStart skips blank space and comment lines (godotenv's
// getStatementStart); it returns -1 at the end of the input.
func (p *envParser) statementStart(pos int) int {
	for {
		i := bytes.IndexFunc(p.src[pos:], func(r rune) bool { return !unicode.IsSpace(r) })
		if i < 0 {
			return -1
		}
		pos += i
		if p.src[pos] != '#' {
			return pos
		}
		j := bytes.IndexByte(p.src[pos:], '\n')
		if j < 0 {
			return -1
		}
		pos += j
	}
}

// keyName reads "[export ]KEY=" or "KEY:" from pos (godotenv's
// locateKeyName). It returns the key and where the value starts, or the
// offset of the byte that cannot be part of a key (bad >= 0); bad is
// len(src) when the input ends before any "=".
func (p *envParser) keyName(pos int) (key string, valStart, bad int) {
	s := pos + leadingSpace(p.src[pos:])
	if rest := p.src[s:]; bytes.HasPrefix(rest, []byte("export")) {
		if r, _ := utf8.DecodeRune(rest[6:]); isSpace(r) {
			s += 6 + leadingSpace(rest[6:])
		}
	}
	// Byte by byte, as godotenv does: bytes >= 0x80 are judged as Latin-1.
	for i := s; i < len(p.src); i++ {
		c := p.src[i]
		switch {
		case isSpace(rune(c)):
		case c == '=' || c == ':': // ":" for the YAML-like form godotenv accepts
			key = strings.TrimRightFunc(string(p.src[s:i]), unicode.IsSpace)
			return key, i + 1 + leadingSpace(p.src[i+1:]), -1
		case c == '_' || c == '.' || unicode.IsLetter(rune(c)) || unicode.IsNumber(rune(c)):
		default:
			return "", 0, i
		}
	}
	return "", 0, len(p.src)
}

// badKey reports a statement whose key ends at bad without an "=".
func (p *envParser) badKey(start, bad, quotedEnd int) {
	lineEnd := p.skipLine(start)
	text := strings.TrimSpace(string(p.src[start:lineEnd]))
	if before, _, ok := strings.Cut(text, "="); ok {
		text = strings.TrimSpace(before)
	}
	switch {
	case quotedEnd >= 0 && !bytes.Contains(p.src[quotedEnd:start], []byte{'\n'}):
		p.errorAt(start, "unexpected %q after the closing quote; put a comment after \" #\" or the next variable on its own line", text)
	case bad == len(p.src) || p.src[bad] == '\n':
		p.errorAt(start, "%q is not an assignment: write NAME=value", text)
	default:
		_, size := utf8.DecodeRune(p.src[bad:]) // %q shows a stray byte as \x80
		ch := string(p.src[bad : bad+size])
		p.errorAt(bad, "invalid character %q in variable name %q: use letters, digits, %q and %q", ch, text, "_", ".")
	}
}

// value reads a value from pos (godotenv's extractVarValue) and returns it
// with the offset after it; ok is false for an unterminated quote.
func (p *envParser) value(pos int, key string) (value string, next int, quoted, ok bool) {
	if pos >= len(p.src) || (p.src[pos] != '"' && p.src[pos] != '\'') {
		value, next = p.unquoted(pos)
		return value, next, false, true
	}
	q := p.src[pos]
	for i := pos + 1; i < len(p.src); i++ {
		// godotenv skips a quote after any backslash, even an escaped one.
		if p.src[i] != q || p.src[i-1] == '\\' {
			continue
		}
		// godotenv trims every quote at both ends, not only the outer pair.
		raw := string(bytes.Trim(p.src[pos:i], string(q)))
		if q == '"' {
			raw = p.expand(expandEscapes(raw))
		}
		return raw, i + 1, true, true
	}
	kind := "double"
	if q == '\'' {
		kind = "single"
	}
	p.errorAt(pos, "unterminated %s-quoted value for %q: the %c opened on this line is never closed", kind, key, q)
	return "", len(p.src), true, false
}

func (p *envParser) unquoted(pos int) (string, int) {
	rest := p.src[pos:]
	eol := bytes.IndexAny(rest, "\r\n")
	if eol < 0 {
		eol = len(rest)
	}
	// Runes, as godotenv counts back over them (invalid UTF-8 becomes U+FFFD).
	line := []rune(string(rest[:eol]))
	end := len(line)
	for i := end - 1; i > 0; i-- {
		// The last " #" starts an inline comment.
		if line[i] == '#' && isSpace(line[i-1]) {
			end = i
			break
		}
	}
	return p.expand(strings.TrimFunc(string(line[:end]), isSpace)), pos + eol
}

func (p *envParser) get(name string) string {
	if v, ok := p.out[name]; ok {
		return v
	}
	if p.lookup != nil {
		if v, ok := p.lookup(name); ok {
			return v
		}
	}
	return ""
}

// These regular expressions are godotenv's, kept verbatim so that escapes and
// expansion behave exactly alike.
var (
	escapeRegex        = regexp.MustCompile(`\\.`)
	expandVarRegex     = regexp.MustCompile(`(\\)?(\$)(\()?\{?([A-Z0-9_]+)?\}?`)
	unescapeCharsRegex = regexp.MustCompile(`\\([^$])`)
)

func expandEscapes(s string) string {
	out := escapeRegex.ReplaceAllStringFunc(s, func(m string) string {
		switch m {
		case `\n`:
			return "\n"
		case `\r`:
			return "\r"
		}
		return m
	})
	return unescapeCharsRegex.ReplaceAllString(out, "$1")
}

// expand replaces $VAR and ${VAR} (upper-case names only) and turns \$ into
// $, like godotenv's expandVariables. godotenv means to leave $(...) alone
// but its check never fires, so "$(FOO)" expands FOO; that is kept.
func (p *envParser) expand(s string) string {
	return expandVarRegex.ReplaceAllStringFunc(s, func(m string) string {
		sub := expandVarRegex.FindStringSubmatch(m)
		switch {
		case sub[1] == `\`:
			return m[1:]
		case sub[4] != "":
			return p.get(sub[4])
		}
		return m
	})
}

// isSpace is godotenv's: white space other than a line feed.
func isSpace(r rune) bool {
	switch r {
	case '\t', '\v', '\f', '\r', ' ', 0x85, 0xA0:
		return true
	}
	return false
}

func leadingSpace(b []byte) int {
	return len(b) - len(bytes.TrimLeftFunc(b, isSpace))
}
