#!/usr/bin/env bash
# bench/redis.sh — issue 16's Redis benchmark, in one run on this machine:
#   1. redis-benchmark -q -n 100000 -c 50, unpipelined and -P 16, against the
#      embedded backend (miniredis behind dynobox's layer, AOF on), the
#      system backend (redis-server run by dynobox: AUTH, AOF everysec) and
#      a plain redis-server (no persistence, no AUTH), the three taking
#      turns test group by test group; requests/s and each backend's ratio
#      to plain per command, and their geometric means.
#   2. the worst and 99th-percentile PING round trip with 200 000 keys while
#      four clients keep writing (SET, pipelined by 10), for each backend
#      and plain redis-server.
#   3. LPUSH and RPUSH onto a 100 000-element list on the embedded backend.
#
#   bash bench/redis.sh
#
# Environment: OUT=/tmp/dynobox-redis-bench (results: redis-results.txt).
# Needs go, redis-server and redis-benchmark (Debian: apt-get install -y
# redis-server redis-tools). The load average is printed before and after
# each part: the machine is shared, so read the numbers next to it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/dynobox-redis-bench}
mkdir -p "$OUT"
res="$OUT/redis-results.txt"
: >"$res"
for tool in go redis-server redis-benchmark; do
	command -v "$tool" >/dev/null || { echo "bench/redis.sh: $tool not found" >&2; exit 2; }
done
go test -c -o "$OUT/addons.test" ./addons/
run() {
	local what=$1 bench=$2
	shift 2
	{
		echo "## $what"
		echo "load before: $(cat /proc/loadavg)"
		(cd addons && "$OUT/addons.test" -test.run '^$' -test.bench "$bench" -test.v "$@" 2>&1) |
			grep -v '^goos\|^goarch\|^pkg\|^cpu\|^=== \|^PASS'
		echo "load after:  $(cat /proc/loadavg)"
		echo
	} | tee -a "$res"
}
run "redis-benchmark -c 50 -n 100000 (-P 1 and -P 16): embedded, system, plain redis-server" \
	'RedisBackendsVsRedisServer' -test.benchtime 1x
run "worst PING with 200 000 keys under steady writes" 'RedisPingUnderWrites' -test.benchtime 1x
run "LPUSH and RPUSH onto a 100 000-element list (embedded)" 'RedisPushOnLongList' -test.benchtime 3s
echo "results: $res"
