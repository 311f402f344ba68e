package cli

import (
	"testing"

	"github.com/dynobox/dynobox/procfile"
	"github.com/dynobox/dynobox/runner"
)

// heroku -a NAME: app.json's name, else the directory's.
func TestPlatformName(t *testing.T) {
	for _, c := range []struct {
		app  runner.App
		want string
	}{
		{runner.App{Dir: "/src/shop"}, "shop"},
		{runner.App{Dir: "/src/shop", AppJSON: &procfile.AppJSON{}}, "shop"},
		{runner.App{Dir: "/src/shop", AppJSON: &procfile.AppJSON{Name: "shop-api"}}, "shop-api"},
	} {
		if got := platformName(&c.app); got != c.want {
			t.Errorf("platformName(%+v) = %q, want %q", c.app, got, c.want)
		}
	}
}

// info prints the two lines to paste into a shell.
func TestPlatformExports(t *testing.T) {
	got := platformExports("http://127.0.0.1:6007", "k")
	if len(got) != 2 || got[0] != "export HEROKU_HOST=http://127.0.0.1:6007" || got[1] != "export HEROKU_API_KEY=k" {
		t.Fatalf("exports %q", got)
	}
}
