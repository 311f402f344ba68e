#!/usr/bin/env bash
# bench/gitpush.sh — push-to-serving overhead of git push dynobox main: the
# time from "git push" to the new version answering through the router,
# minus the build's own time (as dynobox builds records it). What is left is
# git's transfer, the export of the commit, compressing the slug, the
# release, the dyno's copy of the slug and its boot (preboot). Target: < 1 s.
#
#   bash bench/gitpush.sh            # 5 pushes of a small Go web app
#   TRIALS=10 bash bench/gitpush.sh
#
# Environment: TRIALS (5), PORT (7806), OUT (/tmp/dynobox-gitpush-bench).
# Needs go, git and python3 (to read --json). The slug's dyno-start cost
# for a 100 MB, 5,000-file slug is a Go benchmark:
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
printf 'module example.com/bench\n\ngo 1.22\n' >go.mod
printf 'web: bin/bench\n' >Procfile
app v0
git init -q -b main && git add -A && git commit -qm v0
"$DYNOBOX" git:remote >/dev/null
git push -q dynobox main 2>"$OUT/push-0.log"
"$DYNOBOX" start -p "$PORT" --no-watch --dashboard off >"$OUT/start.log" 2>&1 &
PID=$!
trap 'kill -INT $PID; wait $PID || true' EXIT
until [[ $(curl -s "http://127.0.0.1:$PORT/") == v0 ]]; do sleep 0.05; done

now() { date +%s%N; }
echo "| push | total ms | build ms | overhead ms |"
echo "| --- | ---: | ---: | ---: |"
for i in $(seq 1 "$TRIALS"); do
	app "v$i"
	git commit -qam "v$i"
	t0=$(now)
	git push -q dynobox main 2>"$OUT/push-$i.log"
	until [[ $(curl -s "http://127.0.0.1:$PORT/") == "v$i" ]]; do sleep 0.01; done
	t1=$(now)
	build=$("$DYNOBOX" builds --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["duration"]//1000000)')
	total=$(((t1 - t0) / 1000000))
	echo "| v$i | $total | $build | $((total - build)) |"
done
