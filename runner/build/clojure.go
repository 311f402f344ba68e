package build

import (
	"context"
	"strings"
)

// leinWeb is Heroku's Clojure buildpack's default web process.
const leinWeb = "lein trampoline run"

// leinBuild runs the project's ./lein script, or Leiningen from the PATH,
// with uberjar; LEIN_BUILD_TASK (a config var, as on Heroku) replaces it.
func (b *builder) leinBuild(ctx context.Context) error {
	if err := b.jvmPrepare(ctx); err != nil {
		return err
	}
	task := strings.Fields(envOr(b.env, "LEIN_BUILD_TASK", "uberjar"))
	label, argv := b.wrapper("lein", "lein")
	s := b.step(label+" "+strings.Join(task, " "), append(argv, task...)...)
	if err := b.fetchStep(ctx, s, "Leiningen downloads Clojure and the project's dependencies (Clojars, Maven Central)"); err != nil {
		return err
	}
	b.defaults = map[string]string{"web": leinWeb}
	return nil
}
