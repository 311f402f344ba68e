package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/dynobox/dynobox/internal/testutil"
)

// Without privilege nothing names the process behind a one-shot write, so
// an upload into a folder of the app's own choosing would deploy; when git
// ignores that folder it never does, wherever git reads that from (here
// .git/info/exclude and the user's global ~/.config/git/ignore, which no
// .gitignore in the tree shows). dynobox runs as nobody when the test runs
// as root, so fanotify cannot name the writer.
func TestUploadsIntoGitIgnoredFoldersNeverDeployUnprivileged(t *testing.T) {
	t.Parallel()
	base, err := os.MkdirTemp("", "dynobox-gitignored-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	app, home, bin := filepath.Join(base, "app"), filepath.Join(base, "home"), filepath.Join(base, "bin")
	files := map[string]string{
		"app/Procfile":            "web: DYNOBOX_TEST_HELPER=upload exec " + filepath.Join(bin, "helper") + "\n",
		"app/a.txt":               "0",
		"app/saved/.keep":         "",
		"app/cache/.keep":         "",
		"home/.config/git/ignore": "cache/\n",
		"app/lib/code/source.rb":  "# code",
		"app/public/index.html":   "hi",
		"home/.gitconfig":         "[user]\n\tname = t\n\temail = t@example.com\n",
	}
	for name, content := range files {
		p := filepath.Join(base, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The binaries where nobody may run them (the test's own directories
	// are private).
	os.MkdirAll(bin, 0o755)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, exe, filepath.Join(bin, "helper"))
	copyFile(t, dynoboxBin, filepath.Join(bin, "dynobox"))
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "NO_COLOR=1", "GIT_CONFIG_NOSYSTEM=1"}
	gitAs := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = app, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitAs("init", "-q")
	gitAs("add", "Procfile", "a.txt", "lib", "public")
	gitAs("commit", "-q", "-m", "app")
	if err := os.WriteFile(filepath.Join(app, ".git/info/exclude"), []byte("saved/\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	cmd := exec.Command(filepath.Join(bin, "dynobox"), "start", "-p", strconv.Itoa(port), "--dashboard", "off", "--build", "echo compiling")
	if os.Geteuid() == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("no user nobody to run dynobox without privilege: %v", err)
		}
		uid, _ := strconv.Atoi(nobody.Uid)
		gid, _ := strconv.Atoi(nobody.Gid)
		if err := filepath.Walk(base, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		}); err != nil {
			t.Fatal(err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	p := &proc{t: t, cmd: cmd, out: &testutil.Buffer{}, err: &testutil.Buffer{}}
	cmd.Dir, cmd.Env = app, env
	cmd.Stdout, cmd.Stderr = p.out, p.err
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	p.waitOutput("Watching " + app)
	p.waitOutput("State changed from starting to up")
	deploys := deploysIn(p.out.String())

	for i := 1; i <= 20; i++ {
		dir := []string{"saved", "cache"}[i%2]
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/upload?dir=%s", port, dir))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("upload %d: status %d %s", i, resp.StatusCode, body)
		}
	}
	fi, err := os.Stat(filepath.Join(app, "saved", "20.txt"))
	if err != nil {
		t.Fatalf("the 20th upload was not saved: %v", err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
		t.Fatal("the dyno ran as root: fanotify could name it, and this test would prove nothing")
	}

	// A save after the uploads: a deploy for a batch of uploads would come
	// first, or in one batch with it, or within the watcher's longest wait
	// for a batch (2 s) after it.
	writeFile(t, filepath.Join(app, "lib/code/source.rb"), "# yours")
	waitFor(t, "the deploy of a save", func() bool { return deploysIn(p.out.String()) > deploys })
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if n := deploysIn(p.out.String()) - deploys; n > 1 {
			t.Fatalf("20 uploads into git-ignored folders and 1 save made %d deploys, want 1:\n%s", n, p.out)
		}
	}
	onlyChanged(t, p.out.String(), "lib/code/source.rb")
	if n := deploysIn(p.out.String()) - deploys; n != 1 {
		t.Fatalf("20 uploads into git-ignored folders and 1 save made %d deploys, want 1:\n%s", n, p.out)
	}
	stopApp(t, p)
}

// copyFile copies an executable.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}
