// Package gitpush is the git side of `git push dynobox main`: the bare
// repository dynobox keeps in the app's state directory, its receive hook,
// which refs a push may update, and exporting a pushed commit into a clean
// build directory.
//
// Its contract: it never prints; it runs git (which must be on PATH) and
// returns errors that name the git command and its output. A refused ref
// is a *RefusedError carrying the lines Heroku would print.
package gitpush

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Update is one line of a pre-receive hook's input: a ref moving from Old
// to New (all zeros: created or deleted).
type Update struct {
	Old, New, Ref string
}

const zeroSHA = "0000000000000000000000000000000000000000"

// Deletes reports whether the update deletes the ref.
func (u Update) Deletes() bool { return strings.Trim(u.New, "0") == "" }

// Branch is the ref's branch name ("" for tags and other refs).
func (u Update) Branch() string {
	b, _ := strings.CutPrefix(u.Ref, "refs/heads/")
	if b == u.Ref {
		return ""
	}
	return b
}

// ReadUpdates parses a pre-receive hook's standard input.
func ReadUpdates(r io.Reader) ([]Update, error) {
	var out []Update
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("unexpected hook input %q (want: old new ref)", sc.Text())
		}
		out = append(out, Update{Old: f[0], New: f[1], Ref: f[2]})
	}
	return out, sc.Err()
}

// RefusedError is a push that updates refs Heroku would not build; Lines
// are what the push prints, Heroku's words.
type RefusedError struct{ Lines []string }

func (e *RefusedError) Error() string { return strings.Join(e.Lines, "; ") }

// Deployable picks the update to build: a push to main or master (git
// push dynobox other:main pushes to main too). A push that updates any
// other ref is refused whole, as pre-receive refuses atomically. ok is
// false when there is nothing to build (only deletions of main/master).
func Deployable(updates []Update) (u Update, ok bool, err error) {
	for _, up := range updates {
		switch up.Branch() {
		case "main", "master":
			if up.Deletes() {
				continue
			}
			if ok && up.New != u.New {
				return Update{}, false, &RefusedError{[]string{
					" !     Push rejected: main and master were pushed with different commits.",
					" !     Push one of them: git push dynobox HEAD:main",
				}}
			}
			u, ok = up, true
		default:
			return Update{}, false, &RefusedError{[]string{
				"Pushed to non-main branch, skipping build.",
				fmt.Sprintf(" !     Push rejected: dynobox builds only main or master, not %s.", up.Ref),
				" !     Push to main instead: git push dynobox " + shortRef(up.Ref) + ":main",
			}}
		}
	}
	return u, ok, nil
}

func shortRef(ref string) string {
	for _, p := range []string{"refs/heads/", "refs/tags/"} {
		if s, ok := strings.CutPrefix(ref, p); ok {
			return s
		}
	}
	return ref
}
