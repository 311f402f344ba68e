package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// addons:destroy asks on the terminal it is given for the add-on's name,
// and deletes only when it is typed; without a terminal it asks for
// --confirm instead of waiting for an answer.
func TestAddonsDestroyConfirmsOnItsTerminal(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"Procfile": "worker: ./work\n"})
	out, errOut, code := mustRun(t, "addons:create", "heroku-redis", "-C", dir)
	if code != 0 {
		t.Fatalf("addons:create on a stopped app: exit %d\n%s%s", code, out, errOut)
	}
	const name = "heroku-redis"
	if out, _, _ := mustRun(t, "addons", "-C", dir); !strings.Contains(out, "=== "+name) {
		t.Fatalf("addons lists no %s:\n%s", name, out)
	}

	destroy := func(typed string) (stdout, stderr string, code int) {
		t.Helper()
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer ptmx.Close()
		defer tty.Close()
		if _, err := ptmx.Write([]byte(typed + "\n")); err != nil {
			t.Fatal(err)
		}
		var o, e bytes.Buffer
		code = Main(context.Background(), []string{"addons:destroy", name, "-C", dir}, tty, &o, &e)
		return o.String(), e.String(), code
	}
	out, errOut, code = destroy("not-" + name)
	if code != 2 || !strings.Contains(errOut, "Type "+name+" to confirm: ") || !strings.Contains(errOut, "not confirmed; nothing was deleted") {
		t.Fatalf("destroy, another name typed: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = destroy(name)
	if code != 0 || !strings.HasPrefix(out, "Destroying "+name+"... done, v") {
		t.Fatalf("destroy, its name typed: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, _ := mustRun(t, "addons", "-C", dir); strings.Contains(out, "=== "+name) {
		t.Errorf("%s is still listed after its destroy:\n%s", name, out)
	}

	// No terminal: no prompt, the verb asks for --confirm.
	_, errOut, code = mustRun(t, "addons:destroy", name, "-C", dir)
	if code != 2 || !strings.Contains(errOut, "confirm with --confirm "+name) {
		t.Errorf("destroy without a terminal: exit %d\n%s", code, errOut)
	}
}
