#!/usr/bin/env bash
# bench/ci.sh — the overhead of `dynobox ci` beyond the test command itself:
# throwaway Postgres up and down, with and without a build, one node and two
# parallel nodes; compared with the same test-setup and test against a
# Postgres started by hand (initdb, pg_ctl start … stop, rm), and against
# one already running (the floor: the scripts alone).
#
#   bash bench/ci.sh              # 3 trials per row
#   TRIALS=5 bash bench/ci.sh
#
# Per row: the median wall time of the whole command, and for dynobox the
# medians of what its --json summary splits out (build, test-setup, test),
# "overhead" being wall time minus test-setup and test.
# Environment: TRIALS (3), OUT (/tmp/dynobox-ci-bench), PGBIN (PostgreSQL's
# server binaries; default: the newest under /usr/lib/postgresql).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
OUT=${OUT:-${TMPDIR:-/tmp}/dynobox-ci-bench}
TRIALS=${TRIALS:-3}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
rm -rf "$OUT"
mkdir -p "$OUT"
echo "building dynobox" >&2
(cd "$ROOT" && go build -o "$OUT/dynobox" .)

SETUP='psql "$DATABASE_URL" -qc "create table t(x int); insert into t select generate_series(1, 1000)"'
TEST='psql "$DATABASE_URL" -Atc "select count(*) from t"'

# app NAME QUANTITY [go]: an app directory whose environments.test has an
# in-dyno Postgres, the setup and test above, QUANTITY nodes; with go, also
# a Go module with one test (built, then `go test ./...` after the query).
app() {
	local dir=$OUT/apps/$1 test=$TEST
	mkdir -p "$dir"
	if [[ ${3:-} == go ]]; then
		printf 'module citest\n\ngo 1.21\n' >"$dir/go.mod"
		printf 'package main\n\nfunc main() {}\n\nfunc two() int { return 2 }\n' >"$dir/main.go"
		printf 'package main\n\nimport "testing"\n\nfunc TestTwo(t *testing.T) {\n\tif two() != 2 {\n\t\tt.Fatal("two")\n\t}\n}\n' >"$dir/main_test.go"
		test="$TEST && go test ./..."
	fi
	jq -n --arg setup "$SETUP" --arg test "$test" --argjson q "$2" \
		'{environments: {test: {addons: ["heroku-postgresql:in-dyno"], formation: {test: {quantity: $q}},
		  scripts: {"test-setup": $setup, test: $test}}}}' >"$dir/app.json"
	echo "$dir"
}

# pg runs PostgreSQL's server tools: as root (initdb refuses root), as the
# postgres account, which then owns the data directory.
pg() {
	if [[ $(id -u) == 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }

# ci ROW DIR: TRIALS runs of `dynobox ci --json` in DIR; prints a table row.
ci() {
	local row=$1 dir=$2 i t0 t1
	: >"$OUT/$row.tsv"
	for ((i = 0; i < TRIALS; i++)); do
		t0=$(now)
		(cd "$dir" && "$OUT/dynobox" ci --json >"$OUT/$row.$i.json" 2>"$OUT/$row.$i.log")
		t1=$(now)
		# wall, build, max node setup, max node test (seconds)
		jq -r --arg wall "$(echo "$t1 - $t0" | bc)" \
			'[($wall|tonumber), .build_duration/1e9, ([.nodes[].setup_duration]|max)/1e9, ([.nodes[].test_duration]|max)/1e9] | @tsv' \
			"$OUT/$row.$i.json" >>"$OUT/$row.tsv"
	done
	local wall build setup test
	wall=$(cut -f1 "$OUT/$row.tsv" | median)
	build=$(cut -f2 "$OUT/$row.tsv" | median)
	setup=$(cut -f3 "$OUT/$row.tsv" | median)
	test=$(cut -f4 "$OUT/$row.tsv" | median)
	printf '| %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n' "$row" "$wall" "$build" "$setup" "$test" \
		"$(echo "$wall - $setup - $test" | bc)"
}

# hand ROW: TRIALS runs of the same scripts against a Postgres made by hand
# for the run: initdb, start, setup, test, stop, delete.
hand() {
	local i t0 t1 d port
	: >"$OUT/hand.tsv"
	for ((i = 0; i < TRIALS; i++)); do
		d=$(mktemp -d /tmp/dynobox-ci-bench-pg.XXXX) # reachable by the postgres account
		[[ $(id -u) != 0 ]] || chown postgres "$d"
		port=$((20000 + RANDOM % 20000))
		t0=$(now)
		pg "$PGBIN/initdb" -D "$d/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
		pg "$PGBIN/pg_ctl" -D "$d/data" -l "$d/log" -w -o "-p $port -k $d -c listen_addresses= -c fsync=off" start >/dev/null
		DATABASE_URL="postgres://postgres@/postgres?host=$d&port=$port" sh -c "$SETUP && $TEST" >/dev/null
		pg "$PGBIN/pg_ctl" -D "$d/data" -w -m fast stop >/dev/null
		rm -rf "$d"
		t1=$(now)
		echo "$t1 - $t0" | bc >>"$OUT/hand.tsv"
	done
	printf '| by hand: initdb, pg_ctl start, scripts, stop, rm | %.2f | – | – | – | – |\n' "$(median <"$OUT/hand.tsv")"
}

# warm: the scripts alone, against a Postgres already running (a fresh
# database each time): the floor.
warm() {
	local i t0 t1 d port
	d=$(mktemp -d /tmp/dynobox-ci-bench-pg.XXXX) # reachable by the postgres account
	[[ $(id -u) != 0 ]] || chown postgres "$d"
	port=$((20000 + RANDOM % 20000))
	pg "$PGBIN/initdb" -D "$d/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
	pg "$PGBIN/pg_ctl" -D "$d/data" -l "$d/log" -w -o "-p $port -k $d -c listen_addresses= -c fsync=off" start >/dev/null
	: >"$OUT/warm.tsv"
	for ((i = 0; i < TRIALS; i++)); do
		psql "postgres://postgres@/postgres?host=$d&port=$port" -qc "create database run$i" >/dev/null
		t0=$(now)
		DATABASE_URL="postgres://postgres@/run$i?host=$d&port=$port" sh -c "$SETUP && $TEST" >/dev/null
		t1=$(now)
		echo "$t1 - $t0" | bc >>"$OUT/warm.tsv"
	done
	pg "$PGBIN/pg_ctl" -D "$d/data" -w -m fast stop >/dev/null
	rm -rf "$d"
	printf '| scripts alone, Postgres already running | %.2f | – | – | – | – |\n' "$(median <"$OUT/warm.tsv")"
}

echo "load before: $(cat /proc/loadavg)" >&2
{
	echo "TRIALS=$TRIALS, medians in seconds; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo '| row | wall | build | test-setup | test | overhead (wall − setup − test) |'
	echo '| --- | ---: | ---: | ---: | ---: | ---: |'
	warm
	hand
	ci "dynobox ci, 1 node, no build" "$(app pg1 1)"
	ci "dynobox ci, 2 parallel nodes, no build" "$(app pg2 2)"
	ci "dynobox ci, 1 node, Go build" "$(app go1 1 go)"
	echo
	echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/ci-results.md"
echo "results: $OUT/ci-results.md" >&2
