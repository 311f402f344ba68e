package watch

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"time"
)

// What git ignores never deploys. Heroku deploys what `git push` sends, so
// a path git would not commit is nobody's code: a dyno's uploads into
// saved/, a cache, whatever the user lists. The watcher's own reader
// (ignore.go) already keeps every .gitignore's directories unwatched; git
// itself also reads .git/info/exclude and the user's core.excludesFile, and
// is the last word on its own syntax, so each batch is checked against it
// once (one git process per batch, not per file). This is what catches a
// dyno's one-shot write without privilege, which no other mechanism can
// attribute (writers.go). Files git tracks are never ignored, as in git.
// Outside a git repository, or without git, only the .gitignore files are
// read (by ignore.go).

// gitIgnored is the default Options.Ignored: which of paths (relative to
// root, slash-separated) git ignores. Without git or a repository: none.
func gitIgnored(root string, paths []string) map[string]bool {
	out := map[string]bool{}
	var in bytes.Buffer
	for _, p := range paths {
		// check-ignore takes no --literal-pathspecs; "./" keeps a name
		// that starts with ":" from being read as pathspec magic.
		in.WriteString("./")
		in.WriteString(p)
		in.WriteByte(0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "-C", root, "check-ignore", "--stdin", "-z")
	cmd.Stdin = &in
	data, _ := cmd.Output() // exit 1: none ignored; 128: no repository
	for _, p := range bytes.Split(data, []byte{0}) {
		if p, ok := bytes.CutPrefix(p, []byte("./")); ok {
			out[string(p)] = true
		}
	}
	return out
}

// dropIgnored drops from the batch what git ignores. The Procfile, .env
// and app.json stay: they are read from the directory, not from git
// (.env is usually ignored).
func (w *Watcher) dropIgnored(b *batch) {
	var ask []string
	for p := range b.paths {
		if !w.cls.special(p) && !strings.HasPrefix(p, ".git/") {
			ask = append(ask, p)
		}
	}
	if len(ask) == 0 {
		return
	}
	for p := range w.opts.Ignored(w.root, ask) {
		delete(b.paths, p)
	}
}
