package gitpush

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/dynobox/dynobox/runner/slug"
)

// ErrNotARepo: the app directory is not in a git work tree.
var ErrNotARepo = errors.New("not a git repository")

// RepoPath is the bare repository a push goes to.
func RepoPath(stateDir string) string { return filepath.Join(stateDir, "repo.git") }

// ReceiveCommand is the hidden verb the hook runs.
const ReceiveCommand = "__receive"

// Remote is what Setup did.
type Remote struct {
	Name, Repo string
	Updated    bool // the remote existed and now points at Repo
}

// Setup makes the bare repository (once), installs its pre-receive hook
// — exe (dynobox's absolute path) run as `exe __receive` for this app —
// and adds remote name to the app's repository, or points an existing one
// at it. An app outside a git work tree is an error wrapping ErrNotARepo.
func Setup(appDir, stateDir, exe, name string) (Remote, error) {
	r := Remote{Name: name, Repo: RepoPath(stateDir)}
	if err := CheckRepo(appDir); err != nil {
		return r, err
	}
	if _, err := os.Stat(filepath.Join(r.Repo, "HEAD")); err != nil {
		if _, err := git("", "init", "--quiet", "--bare", r.Repo); err != nil {
			return r, err
		}
		// HEAD names main: a clone of it checks out what was pushed.
		if _, err := git(r.Repo, "symbolic-ref", "HEAD", "refs/heads/main"); err != nil {
			return r, err
		}
	}
	// An app in a subdirectory of its repository (dynobox start -C
	// example) deploys that directory of each pushed commit.
	sub, err := git(appDir, "rev-parse", "--show-prefix")
	if err != nil {
		return r, err
	}
	if _, err := git(r.Repo, "config", subdirKey, strings.TrimSuffix(strings.TrimSpace(sub), "/")); err != nil {
		return r, err
	}
	hook := fmt.Sprintf("#!/bin/sh\n# dynobox: builds and releases what git push dynobox main sends.\nexec %s %s --app-dir %s --state-dir %s\n",
		shellQuote(exe), ReceiveCommand, shellQuote(appDir), shellQuote(stateDir))
	if err := os.WriteFile(filepath.Join(r.Repo, "hooks", "pre-receive"), []byte(hook), 0o700); err != nil {
		return r, fmt.Errorf("install the receive hook: %w", err)
	}
	if _, err := git(appDir, "remote", "get-url", name); err == nil {
		r.Updated = true
		_, err = git(appDir, "remote", "set-url", name, r.Repo)
		return r, err
	}
	_, err = git(appDir, "remote", "add", name, r.Repo)
	return r, err
}

// subdirKey, in the bare repository's config, is the app's directory in
// its own repository ("" at its top).
const subdirKey = "dynobox.appdir"

// AppSubdir is the app's directory inside its repository as Setup
// recorded it in the bare repository gitDir ("": the top).
func AppSubdir(gitDir string) string {
	sub, err := git(gitDir, "config", "--get", subdirKey)
	if err != nil { // not set: a repository made before it was recorded
		return ""
	}
	return strings.TrimSpace(sub)
}

// Export writes the tree of commit sha — of its subdirectory sub, when
// the app lives there — from the repository the hook runs in (dir "": the
// current one, with the quarantined objects of the push), into the new
// directory dst: the pushed commit, not a work tree.
func Export(ctx context.Context, gitDir, sha, sub, dst string) error {
	tree := sha
	if sub != "" {
		tree = sha + ":" + sub
		if _, err := git(gitDir, "cat-file", "-e", tree); err != nil {
			return fmt.Errorf("the pushed commit %s has no %s/, the app's directory in its repository; push a commit that has it", sha[:min(7, len(sha))], sub)
		}
	}
	cmd := exec.CommandContext(ctx, "git", "archive", "--format=tar", tree)
	cmd.Dir = gitDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git archive: %w", err)
	}
	xerr := slug.Extract(out, dst)
	if xerr != nil {
		cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if werr != nil {
		return fmt.Errorf("git archive %s: %w: %s", sha, werr, strings.TrimSpace(stderr.String()))
	}
	if xerr != nil {
		return fmt.Errorf("export %s: %w", sha, xerr)
	}
	return nil
}

// CheckRepo returns an error wrapping ErrNotARepo when appDir is not in
// a git work tree.
func CheckRepo(appDir string) error {
	if out, err := git(appDir, "rev-parse", "--is-inside-work-tree"); err != nil || strings.TrimSpace(out) != "true" {
		return fmt.Errorf("%s: %w; run git init (and commit) first", appDir, ErrNotARepo)
	}
	return nil
}

// git runs git in dir and returns its standard output.
func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
