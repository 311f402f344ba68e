#!/usr/bin/env bash
# bench/autoscale.sh — a load step against the demo app (example/) under
# dynobox with autoscaling on: time to the first scale-up, p95 before and
# during the step, and how long until the p95 (as the clients measure it,
# in 5-second windows) is back under the target.
#
#   bash bench/autoscale.sh                        # 32 clients for 90 s, target 100 ms
#   CLIENTS=64 TARGET=50 STEP=120s bash bench/autoscale.sh
#
# Environment: CLIENTS (32), TARGET (p95 target in ms, 100), MAX (web
# dynos, 3), STEP (90s), BASE (15s), INTERVAL (DYNOBOX_AUTOSCALE_INTERVAL,
# 10s), WINDOW (DYNOBOX_AUTOSCALE_WINDOW, 1m), PORT (7807), OUT
# (/tmp/dynobox-autoscale-bench). Needs go and the add-ons' servers
# (PostgreSQL, Redis, Kafka's Java) as the demo app does.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
OUT=${OUT:-${TMPDIR:-/tmp}/dynobox-autoscale-bench}
PORT=${PORT:-7807}
TARGET=${TARGET:-100}
mkdir -p "$OUT"

echo "building dynobox and bench/autoscalebench" >&2
(cd "$ROOT" && go build -o "$OUT/dynobox" . && go build -o "$OUT/autoscalebench" ./bench/autoscalebench)
rm -rf "$OUT/app"
mkdir -p "$OUT/app"
(cd "$ROOT/example" && tar --exclude=.dynobox --exclude=bin -cf - .) | (cd "$OUT/app" && tar -xf -)

DYNOBOX_AUTOSCALE_INTERVAL=${INTERVAL:-10s} DYNOBOX_AUTOSCALE_WINDOW=${WINDOW:-1m} \
	"$OUT/dynobox" start -C "$OUT/app" -p "$PORT" --dashboard off --no-watch >"$OUT/dynobox.log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
echo "waiting for the demo to answer on :$PORT (add-ons and build first)" >&2
for _ in $(seq 1 600); do
	if curl -fs -o /dev/null "http://127.0.0.1:$PORT/"; then break; fi
	sleep 0.5
done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/"
"$OUT/dynobox" ps:autoscale:enable web -C "$OUT/app" --min 1 --max "${MAX:-3}" --p95 "$TARGET" >&2
echo "load: $(cat /proc/loadavg)" >&2
"$OUT/autoscalebench" -url "http://127.0.0.1:$PORT/" -dynobox "$OUT/dynobox" -app "$OUT/app" \
	-clients "${CLIENTS:-32}" -base "${BASE:-15s}" -step "${STEP:-90s}" -target "${TARGET}ms" | tee "$OUT/autoscale-results.md"
echo "load: $(cat /proc/loadavg)" >&2
grep -a "by autoscaling" "$OUT/dynobox.log" >&2 || true
echo "results: $OUT/autoscale-results.md; log: $OUT/dynobox.log" >&2
