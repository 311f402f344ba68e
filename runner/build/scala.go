package build

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// sbtBuild runs the project's ./sbt launcher, or sbt from the PATH, with
// compile stage, as Heroku's Scala buildpack does: SBT_PRE_TASKS (a config
// var) run first, and SBT_CLEAN=true adds clean. sbt-native-packager's
// stage puts the app's start script in target/universal/stage/bin.
func (b *builder) sbtBuild(ctx context.Context) error {
	if err := b.jvmPrepare(ctx); err != nil {
		return err
	}
	args := []string{"-Dsbt.log.noformat=true"}
	args = append(args, strings.Fields(getenv(b.env, "SBT_PRE_TASKS"))...)
	if getenv(b.env, "SBT_CLEAN") == "true" {
		args = append(args, "clean")
	}
	args = append(args, "compile", "stage")
	label, argv := b.wrapper("sbt", "sbt")
	s := b.step(label+" "+strings.Join(args, " "), append(argv, args...)...)
	if err := b.fetchStep(ctx, s, "sbt downloads itself, Scala, plugins and dependencies (Maven Central, the sbt plugin repositories)"); err != nil {
		return err
	}
	if web := b.sbtDefaultWeb(); web != "" {
		b.defaults = map[string]string{"web": web}
	}
	return nil
}

// stageBin is where sbt-native-packager's stage puts start scripts.
const stageBin = "target/universal/stage/bin"

// sbtDefaultWeb is Heroku's Scala buildpack's default web process: the
// one start script stage made (none when it made several: the app must
// say which in its Procfile), or for a Play app without native
// packaging, Play's own target/start.
func (b *builder) sbtDefaultWeb() string {
	if entries, err := os.ReadDir(filepath.Join(b.appDir, stageBin)); err == nil {
		var scripts []string
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
				scripts = append(scripts, e.Name())
			}
		}
		if len(scripts) != 1 {
			return ""
		}
		return stageBin + "/" + scripts[0] + " -Dhttp.port=$PORT"
	}
	if b.isPlay() {
		return "target/start -Dhttp.port=$PORT $JAVA_OPTS"
	}
	return ""
}

// playPlugin is the line of project/plugins.sbt that makes an sbt
// project a Play app.
var playPlugin = regexp.MustCompile(`(?m)^\s*addSbtPlugin\(\s*("org\.playframework"|"com\.typesafe\.play")\s*%\s*"sbt-plugin"`)

// isPlay is Heroku's test for a Play app: IS_PLAY_APP when set, else a
// conf/application.conf (PLAY_CONF_FILE) or the Play sbt plugin.
func (b *builder) isPlay() bool {
	switch getenv(b.env, "IS_PLAY_APP") {
	case "true":
		return true
	case "false":
		return false
	}
	if _, err := os.Stat(filepath.Join(b.appDir, envOr(b.env, "PLAY_CONF_FILE", "conf/application.conf"))); err == nil {
		return true
	}
	data, err := os.ReadFile(filepath.Join(b.appDir, "project", "plugins.sbt"))
	return err == nil && playPlugin.Match(data)
}
