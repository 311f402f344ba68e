package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/dynobox/dynobox/internal/proc"
)

// shellCommand is the one way a dyno, the release phase and a one-off
// dyno start: /bin/sh -c running command after the app's profile
// scripts, in the app's directory with env, leading a process group of
// its own.
func shellCommand(appDir, command string, env []string) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", shellScript(appDir, command))
	cmd.Dir = appDir
	cmd.Env = env
	cmd.SysProcAttr = proc.GroupAttr()
	return cmd
}

// shellScript is what /bin/sh -c runs: the app's .profile.d/*.sh and then
// .profile sourced first when present (as on Heroku), then the command.
func shellScript(appDir, command string) string {
	var pre []string
	if m, _ := filepath.Glob(filepath.Join(appDir, ".profile.d", "*.sh")); len(m) > 0 {
		pre = append(pre, `for f in .profile.d/*.sh; do [ -r "$f" ] && . "./$f"; done; unset f`)
	}
	if _, err := os.Stat(filepath.Join(appDir, ".profile")); err == nil {
		pre = append(pre, `. ./.profile`)
	}
	if len(pre) == 0 {
		return command
	}
	return strings.Join(pre, "\n") + "\n" + command
}
