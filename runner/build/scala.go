package build

import (
	"context"
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
	return b.fetchStep(ctx, s, "sbt downloads itself, Scala, plugins and dependencies (Maven Central, the sbt plugin repositories)")
}
