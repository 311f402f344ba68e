#!/usr/bin/env bash
# bench/deploy.sh — save-to-serving latency of the demo app (example/)
# under dynobox and under air, in one run, with a load loop counting failed
# requests meanwhile; the go build commands are also timed alone, so the
# overhead beyond the build is reported.
#
#   bash bench/deploy.sh             # 5 edits per tool, about 3 minutes
#   TRIALS=3 bash bench/deploy.sh
#
# Environment: TRIALS (5), CLIENTS (2 load clients per tool), AIR (an air
# binary; default: installed into bench/.peers/bin with go install),
# AIR_VERSION (v1.67.4), OUT (/tmp/dynobox-deploy-bench).
# Needs go and PostgreSQL's server binaries (the demo app's add-ons).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
OUT=${OUT:-${TMPDIR:-/tmp}/dynobox-deploy-bench}
AIR_VERSION=${AIR_VERSION:-v1.67.4}
PEERS=${PEERS:-$BENCH_DIR/.peers}
mkdir -p "$OUT"

echo "building dynobox and bench/deploybench" >&2
(cd "$ROOT" && go build -o "$OUT/dynobox" . && go build -o "$OUT/deploybench" ./bench/deploybench)
AIR=${AIR:-$PEERS/bin/air}
if [[ ! -x $AIR ]]; then
	echo "installing air $AIR_VERSION into $PEERS/bin" >&2
	mkdir -p "$PEERS/bin"
	GOBIN="$PEERS/bin" go install "github.com/air-verse/air@$AIR_VERSION"
fi
rm -rf "$OUT/work"
mkdir -p "$OUT/work"
cd "$ROOT"
"$OUT/deploybench" -dynobox "$OUT/dynobox" -air "$AIR" -example example -work "$OUT/work" \
	-trials "${TRIALS:-5}" -clients "${CLIENTS:-2}" | tee "$OUT/deploy-results.md"
echo "results: $OUT/deploy-results.md; logs: $OUT/work/*.log" >&2
