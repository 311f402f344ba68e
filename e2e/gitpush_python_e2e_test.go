package e2e

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A pushed Python app's slug holds its virtualenv, as Heroku's holds
// /app/.heroku/python: its dynos need nothing from the state directory.

// helloWheel is a wheel of package hello whose console script, hello-web,
// serves where Python and the module run from: installing it needs no
// package index.
func helloWheel(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	files := map[string]string{
		"hello/__init__.py": `import http.server, os, sys

def main():
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ("py prefix=%s module=%s" % (sys.prefix, __file__)).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`,
		"hello-1.0.dist-info/METADATA":         "Metadata-Version: 2.1\nName: hello\nVersion: 1.0\n",
		"hello-1.0.dist-info/WHEEL":            "Wheel-Version: 1.0\nGenerator: dynobox-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
		"hello-1.0.dist-info/entry_points.txt": "[console_scripts]\nhello-web = hello:main\n",
	}
	var record []string
	for name, data := range files {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
		record = append(record, name+",,")
	}
	w, _ := z.Create("hello-1.0.dist-info/RECORD")
	w.Write([]byte(strings.Join(append(record, "hello-1.0.dist-info/RECORD,,"), "\n") + "\n"))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestGitPushPythonRunsFromItsSlugAlone(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"requirements.txt":           "./hello-1.0-py3-none-any.whl\n",
		"hello-1.0-py3-none-any.whl": helloWheel(t),
		"Procfile":                   "web: hello-web\n",
	})
	gitIn(t, dir, "init", "-q", "-b", "main")
	commit := commitAll(t, dir, "python app")
	if _, stderr, code := runDynobox(t, dir, "git:remote"); code != 0 {
		t.Fatalf("git:remote: %s", stderr)
	}
	if out, code := gitRun(t, dir, "push", "dynobox", "main"); code != 0 || !strings.Contains(out, "Python app detected") {
		t.Fatalf("git push: exit %d\n%s", code, out)
	}
	state := filepath.Join(dir, ".dynobox")
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port), "--boot-timeout", "120")
	dyno := filepath.Join(state, "dynos", "web.1-")
	body := waitPrefix(t, p, url, "py prefix="+dyno)
	if !strings.Contains(body, ".heroku/python module="+dyno) {
		t.Fatalf("the dyno does not run the virtualenv and module of its copy of the slug: %q", body)
	}
	// A one-off dyno runs in a fresh copy of the slug too, as on Heroku,
	// with the commit and the slug's virtualenv; its writes go with it.
	out, stderr, code := runDynobox(t, dir, "run", `echo "$HEROKU_SLUG_COMMIT $PWD"; python -c 'import hello; print(hello.__file__)'; touch run-wrote-this`)
	runCopy := filepath.Join(state, "dynos", "run-")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 ||
		!strings.HasPrefix(lines[0], commit+" "+runCopy) || !strings.HasPrefix(lines[1], runCopy) {
		t.Fatalf("dynobox run: exit %d, want the commit, a copy of the slug and its module:\n%s%s", code, out, stderr)
	}
	if left, _ := filepath.Glob(runCopy + "*"); len(left) != 0 {
		t.Errorf("the one-off dyno's copy is left: %v", left)
	}
	if _, err := os.Stat(filepath.Join(dir, "run-wrote-this")); err == nil {
		t.Errorf("the one-off dyno wrote into the work tree")
	}

	// Nothing of it is outside the slug: no virtualenv in the state
	// directory, and with the build's directories and caches gone, and
	// the unpacked slug too, a restarted dyno runs from the archive.
	if _, err := os.Stat(filepath.Join(state, "venv")); err == nil {
		t.Errorf("the push made a virtualenv in the state directory")
	}
	unpacked, _ := filepath.Glob(filepath.Join(state, "slugs", "b*[0-9]"))
	for _, d := range append(unpacked, filepath.Join(state, "push")) {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	if _, stderr, code := runDynobox(t, dir, "ps:restart"); code != 0 {
		t.Fatalf("ps:restart: %s", stderr)
	}
	waitFor(t, "a new dyno", func() bool {
		got := get(url)
		return strings.HasPrefix(got, "py prefix="+dyno) && got != body
	})
	stopApp(t, p)
}
