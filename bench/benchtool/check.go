package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// benchtool check: every line of a runner's output file read back — lost,
// split, mislabelled and duplicated dyno lines.

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// parser tells, for one runner's output format, whether a line carries the
// output of process proc and what that output (the payload) is.
type parser struct {
	tag      *regexp.Regexp // group 1 is the payload; nil means every line is payload
	platform *regexp.Regexp // payloads the runner itself writes under the process's tag
}

func newParser(kind, procName string) (*parser, error) {
	q := regexp.QuoteMeta(procName)
	switch kind {
	case "direct":
		return &parser{}, nil
	case "dynobox":
		// compact: "08:41:17 app[web.1] | payload" (the name may be padded);
		// Logplex: "2026-11-26T08:41:17.123456+00:00 app[web.1]: payload".
		return &parser{tag: regexp.MustCompile(`^(?:\d\d:\d\d:\d\d app\[` + q + `\] *\| |\d{4}-\d\d-\d\dT\S+ app\[` + q + `\]: )(.*)$`)}, nil
	case "heroku", "nf":
		// "10:05:05 AM spam.1 |  payload": the name is padded, two spaces after the bar.
		return &parser{tag: regexp.MustCompile(`^\d{1,2}:\d\d:\d\d [AP]M ` + q + ` *\|  (.*)$`)}, nil
	case "foreman":
		// "10:06:46 spam.1 | payload", plus its own "started with pid N" and
		// "exited with code N" under the same tag.
		return &parser{
			tag:      regexp.MustCompile(`^\d\d:\d\d:\d\d ` + q + ` *\| (.*)$`),
			platform: regexp.MustCompile(`^(started with pid \d+|exited with code \d+|terminated by SIG[A-Z0-9]+)$`),
		}, nil
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

func (p *parser) payload(line string) (string, bool) {
	line = strings.TrimSuffix(line, "\r")
	if strings.IndexByte(line, 0x1b) >= 0 {
		line = ansi.ReplaceAllString(line, "")
	}
	if p.tag == nil {
		return line, true
	}
	m := p.tag.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func cmdCheck(argv []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	kind := fs.String("kind", "direct", "output format: direct, dynobox, heroku, nf, foreman")
	procName := fs.String("proc", "spam.1", "process whose lines are checked")
	n := fs.Int("n", 1000000, "the process printed lines 1..n")
	width := fs.Int("width", 7, "digits in the zero-padded line number")
	fs.Parse(argv)
	if fs.NArg() != 1 {
		return errors.New("want one output file")
	}
	p, err := newParser(*kind, *procName)
	if err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()

	seen := make([]uint8, *n+1)
	var (
		bad, mislabelled, other, platform, reordered, prev int
		badSamples, mislabelledSamples, otherSamples       []string
	)
	rd := bufio.NewReaderSize(f, 1<<20)
	for {
		raw, err := rd.ReadString('\n')
		if raw == "" && err != nil {
			if err != io.EOF {
				return err
			}
			break
		}
		line := strings.TrimSuffix(raw, "\n")
		payload, tagged := p.payload(line)
		if !tagged {
			// A whole line of the dyno's output under some other prefix
			// (foreman writes its dyno's last lines with a blank name)
			// is there, but mislabelled.
			if num, ok := lineSuffix(line, *width); ok && num >= 1 && num <= *n {
				if seen[num] < 255 {
					seen[num]++
				}
				mislabelled++
				if len(mislabelledSamples) < 5 {
					mislabelledSamples = append(mislabelledSamples, line)
				}
				continue
			}
			other++
			if len(otherSamples) < 5 {
				otherSamples = append(otherSamples, line)
			}
			continue
		}
		if num, ok := lineNumber(payload, *width); ok && num >= 1 && num <= *n {
			if seen[num] < 255 {
				seen[num]++
			}
			if num <= prev {
				reordered++ // went backwards: a line came after a later one
			}
			prev = num
			continue
		}
		if p.platform != nil && p.platform.MatchString(payload) {
			platform++
			continue
		}
		bad++
		if len(badSamples) < 5 {
			badSamples = append(badSamples, line)
		}
	}
	var lost, dup int
	var lostSamples []string
	for i := 1; i <= *n; i++ {
		switch {
		case seen[i] == 0:
			lost++
			if len(lostSamples) < 5 {
				lostSamples = append(lostSamples, strconv.Itoa(i))
			}
		case seen[i] > 1:
			dup += int(seen[i]) - 1
		}
	}
	fmt.Printf("lost=%d dup=%d bad=%d mislabelled=%d reordered=%d other=%d platform=%d\n", lost, dup, bad, mislabelled, reordered, other, platform)
	name := filepath.Base(fs.Arg(0))
	for _, s := range lostSamples {
		fmt.Fprintf(os.Stderr, "  %s: lost line %s\n", name, s)
	}
	for _, s := range badSamples {
		fmt.Fprintf(os.Stderr, "  %s: split/mangled: %q\n", name, s)
	}
	for _, s := range mislabelledSamples {
		fmt.Fprintf(os.Stderr, "  %s: whole line without the %s tag: %q\n", name, *procName, s)
	}
	sort.Strings(otherSamples)
	for _, s := range otherSamples {
		fmt.Fprintf(os.Stderr, "  %s: not a %s line (ignored): %q\n", name, *procName, s)
	}
	return nil
}

// lineSuffix finds a whole "line NNNNNNN" at the end of line, after a space
// or a bar.
func lineSuffix(line string, width int) (int, bool) {
	line = strings.TrimSuffix(line, "\r")
	k := len(line) - (5 + width)
	if k < 0 || (k > 0 && line[k-1] != ' ' && line[k-1] != '|') {
		return 0, false
	}
	return lineNumber(line[k:], width)
}

// lineNumber parses exactly "line " followed by width digits.
func lineNumber(s string, width int) (int, bool) {
	if len(s) != 5+width || !strings.HasPrefix(s, "line ") {
		return 0, false
	}
	num := 0
	for _, c := range s[5:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		num = num*10 + int(c-'0')
	}
	return num, true
}
