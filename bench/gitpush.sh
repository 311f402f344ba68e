#!/usr/bin/env bash
# bench/gitpush.sh — push-to-serving overhead of git push dynobox main: the
# time from "git push" to the new version answering through the router,
# minus the build's own time (as dynobox builds records it). What is left is
# git's transfer, the export of the commit, compressing the slug, the
# release, the dyno's copy of the slug and its boot (preboot). Target: < 1 s.
# Each push's remote: lines are timestamped as they arrive, which splits
# the overhead: git→hook (push to the hook's first line), compress (build
# done → "Compressing… done"), release ("Compressing… done" → "Launching…
# done": the release phase, the swap's start) and serve ("Launching… done"
# → the new version answers: the new dyno's copy of the slug, its boot).
#
#   bash bench/gitpush.sh            # 5 pushes of a small Go web app
#   DEMO=1 bash bench/gitpush.sh     # the demo app (example/: Postgres, Redis, Kafka, release: bin/migrate)
#   TRIALS=10 bash bench/gitpush.sh
#
# Environment: TRIALS (5), PORT (7806), OUT (/tmp/dynobox-gitpush-bench),
# DEMO (unset). Needs go, git, curl and python3 (to read --json). The
# slug's dyno-start cost for a 100 MB, 5,000-file slug is a Go benchmark:
#   go test -run X -bench . -benchtime 5x ./runner/slug/
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
OUT=${OUT:-${TMPDIR:-/tmp}/dynobox-gitpush-bench}
PORT=${PORT:-7806}
TRIALS=${TRIALS:-5}
rm -rf "$OUT"
mkdir -p "$OUT/app"
(cd "$ROOT" && go build -o "$OUT/dynobox" .)
DYNOBOX=$OUT/dynobox
cd "$OUT/app"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

app() {
	cat >main.go <<GO
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv("PORT"), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "$1")
	})}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		panic(err)
	}
}
GO
}
if [[ -n ${DEMO:-} ]]; then
	# The demo app as its own repository; each trial changes its greeting line.
	(cd "$ROOT/example" && git ls-files -z | xargs -0 cp --parents -t "$OUT/app")
	app() { sed -i -E "s/Hello (v[0-9]+ )?from/Hello $1 from/" web/main.go; }
	answer() { curl -s "http://127.0.0.1:$PORT/" | grep -q "Hello $1 from"; }
else
	printf 'module example.com/bench\n\ngo 1.22\n' >go.mod
	printf 'web: bin/bench\n' >Procfile
	answer() { [[ $(curl -s "http://127.0.0.1:$PORT/") == "$1" ]]; }
fi
app v0
git init -q -b main && git add -A && git commit -qm v0
"$DYNOBOX" git:remote >/dev/null
git push -q dynobox main 2>"$OUT/push-0.log"
"$DYNOBOX" start -p "$PORT" --no-watch --dashboard off >"$OUT/start.log" 2>&1 &
PID=$!
trap 'kill -INT $PID; wait $PID || true' EXIT
until answer v0; do sleep 0.05; done

now() { date +%s%N; }
# stamp prefixes each line with the time it arrived (ns).
stamp() { while IFS= read -r l; do printf '%s %s\n' "$(date +%s%N)" "$l"; done; }
# at PATTERN LOG: when the first line matching PATTERN arrived.
at() { grep -m1 -- "$1" "$2" | cut -d' ' -f1; }
ms() { echo $((($2 - $1) / 1000000)); }
echo "| push | total ms | build ms | overhead ms | git→hook | compress | release | serve |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for i in $(seq 1 "$TRIALS"); do
	app "v$i"
	git commit -qam "v$i"
	log=$OUT/push-$i.log
	t0=$(now)
	git push --progress dynobox main 2>&1 | stamp >"$log"
	until answer "v$i"; do sleep 0.01; done
	t1=$(now)
	build=$("$DYNOBOX" builds --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["duration"]//1000000)')
	total=$(((t1 - t0) / 1000000))
	hook=$(at 'remote: -----> Building' "$log")
	built=$(at 'remote: -----> Build .* succeeded' "$log")
	compressed=$(at 'Compressing… done' "$log")
	launched=$(at 'Launching… done' "$log")
	echo "| v$i | $total | $build | $((total - build)) | $(ms "$t0" "$hook") | $(ms "$built" "$compressed") | $(ms "$compressed" "$launched") | $(ms "$launched" "$t1") |"
done
