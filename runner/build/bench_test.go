package build

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkGoRebuild is a save's rebuild of a small two-binary app (one
// changed file, warm build cache): Run against a plain `go build` of the
// same packages. The difference is Run's own cost — go list, copying the
// binaries into bin/ and the kept build, pruning.
func BenchmarkGoRebuild(b *testing.B) {
	app := b.TempDir()
	for name, data := range map[string]string{
		"go.mod":             shopMod,
		"cmd/worker/main.go": "package main\n\nfunc main() {}\n",
	} {
		p := filepath.Join(app, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, []byte(data), 0o644)
	}
	edit := func(i int) {
		src := fmt.Sprintf("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(%d) }\n", i)
		if err := os.WriteFile(filepath.Join(app, "main.go"), []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Run", func(b *testing.B) {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			edit(i)
			res, err := Run(context.Background(), Plan{Kind: Go}, Options{AppDir: app})
			if err != nil {
				b.Fatalf("%v\n%s", err, res.Output)
			}
			total += res.Duration
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/build")
	})
	b.Run("plain-go-build", func(b *testing.B) {
		out := b.TempDir()
		for i := 0; i < b.N; i++ {
			edit(i + 1_000_000)
			cmd := exec.Command("go", "build", "-tags", "heroku", "-o", out+"/", ".", "./cmd/worker")
			cmd.Dir = app
			if o, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, o)
			}
		}
	})
}
