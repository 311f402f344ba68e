#!/usr/bin/env bash
# bench/logrelay.sh — compare dynobox with the Procfile runners it replaces,
# on this machine, in one run. See bench/README.md.
#
#   bash bench/logrelay.sh               # full run (1,000,000 lines), about 3 minutes
#   QUICK=1 bash bench/logrelay.sh       # 100,000 lines, fewer repeats
#
# Environment:
#   DYNOBOX=/path/to/dynobox   binary to test (default: built from the repo into bench/out/)
#   RUNNERS="direct dynobox heroku nf foreman"   which rows to run
#   LINES=1000000  RUNS=3  FIRST_RUNS=5  MEM_RUNS=1   sizes and repeats
#   OUT=bench/out  PEERS=bench/.peers                 where results and npm peers go
#   KEEP_LOGS=0    1 keeps every relay output file (tens of MB each)
#   HEROKU_TELEMETRY=0  1 lets heroku's CLI spawn its telemetry workers
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
OUT=${OUT:-$BENCH_DIR/out}
PEERS=${PEERS:-$BENCH_DIR/.peers}
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	LINES=${LINES:-100000}
	RUNS=${RUNS:-3}
	FIRST_RUNS=${FIRST_RUNS:-3}
else
	LINES=${LINES:-1000000}
	RUNS=${RUNS:-3}
	FIRST_RUNS=${FIRST_RUNS:-5}
fi
MEM_RUNS=${MEM_RUNS:-1}
[[ $QUICK != 1 ]] || QUICK_NOTE=" (QUICK=1: with few lines, start-up weighs more than relaying)"
KEEP_LOGS=${KEEP_LOGS:-0}
RUNNERS=${RUNNERS:-direct dynobox heroku nf foreman}
# Pinned so that two runs of this script compare the same peers.
NPM_PEERS=${NPM_PEERS:-heroku@11.10.0 foreman@3.0.1}

# The dyno of benchmark 1: numbered, fixed-width lines, so that a line split in
# two can never pass for a whole one ("line 0000042").
RELAY_CMD="awk 'BEGIN{for(i=1;i<=$LINES;i++) printf \"line %07d\\n\", i}'"
FIRST_CMD='echo ready; sleep 100'
IDLE_CMD='sleep 1000'
IDLE_DYNOS=10

export HEROKU_DISABLE_AUTOUPDATE=1
# heroku's CLI spawns detached telemetry workers (node, ~115 MB each) that, with
# no route to the internet, outlive the command. They are not part of running
# an app: off by default, HEROKU_TELEMETRY=1 keeps them (and counts them).
if [[ ${HEROKU_TELEMETRY:-0} != 1 ]]; then export DISABLE_TELEMETRY=true; fi
unset FORCE_COLOR CLICOLOR_FORCE || true

log() { printf '%s\n' "$*" >&2; }
die() {
	log "logrelay.sh: $*"
	exit 1
}
wants() { [[ " $RUNNERS " == *" $1 "* ]]; }
# kv KEY "k=v k2=v2": the value of KEY.
kv() { sed -n "s/^\(.* \)\{0,1\}$1=\([^ ]*\).*/\2/p" <<<"$2"; }
# median / max of the space-separated numbers on stdin ("-" if none).
median() { awk '{for(i=1;i<=NF;i++) a[++n]=$i} END{if(!n){print "-"; exit} for(i=2;i<=n;i++){v=a[i]; for(j=i-1;j>=1&&a[j]>v;j--) a[j+1]=a[j]; a[j+1]=v} print a[int((n+1)/2)]}'; }
max() { awk '{for(i=1;i<=NF;i++) if(!n++||$i>m) m=$i} END{print n?m:"-"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if(a=="-"||b=="-"||b==0){print "—"} else printf "%.2f", a/b}'; }

mkdir -p "$OUT"
DETAIL=$OUT/details.log
: >"$DETAIL"
started=$(date +%s)

# ------------------------------------------------------------------ setup

command -v go >/dev/null || die "go is not on PATH"
log "building bench/benchtool"
(cd "$ROOT" && go build -o "$OUT/benchtool" ./bench/benchtool)
BT=$OUT/benchtool

if wants dynobox; then
	DYNOBOX_REV="given binary"
	if [[ -z ${DYNOBOX:-} ]]; then
		DYNOBOX_REV="built from $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo 'a tree with no commits')"
		log "building dynobox from $ROOT"
		(cd "$ROOT" && go build -o "$OUT/dynobox" .) || die "dynobox does not build; set DYNOBOX=/path/to/binary or RUNNERS without dynobox"
		DYNOBOX=$OUT/dynobox
	fi
	[[ -x $DYNOBOX ]] || die "DYNOBOX=$DYNOBOX is not an executable"
	DYNOBOX=$(cd "$(dirname "$DYNOBOX")" && pwd)/$(basename "$DYNOBOX")
fi

if { wants heroku && [[ ! -x $PEERS/node_modules/.bin/heroku ]]; } ||
	{ wants nf && [[ ! -x $PEERS/node_modules/.bin/nf ]]; }; then
	command -v npm >/dev/null || die "npm is needed for heroku local and node-foreman (apt-get install -y npm)"
	log "installing $NPM_PEERS into $PEERS"
	mkdir -p "$PEERS"
	read -ra npm_peers <<<"$NPM_PEERS"
	npm install --prefix "$PEERS" --no-audit --no-fund --loglevel=error "${npm_peers[@]}" >&2
fi
HEROKU=$PEERS/node_modules/.bin/heroku
NF=$PEERS/node_modules/.bin/nf

if wants foreman && ! command -v foreman >/dev/null; then
	[[ $(id -u) == 0 ]] || die "foreman is missing: sudo apt-get install -y ruby-foreman"
	log "installing ruby-foreman"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ruby-foreman >&2
fi

# runner_cmd RUNNER BENCH: the command line that runs the app in the current
# directory (for "direct", the dyno's command itself).
runner_cmd() {
	local r=$1 bench=$2 dyno
	case $bench in
	relay) dyno=$RELAY_CMD ;;
	first) dyno=$FIRST_CMD ;;
	idle) dyno=$IDLE_CMD ;;
	esac
	case $r in
	direct) printf '%s\0' sh -c "$dyno" ;;
	dynobox)
		# A free public port: another dynobox on this machine may hold 5006.
		printf '%s\0' "$DYNOBOX" start -p "$("$BT" freeport)"
		[[ $bench != relay ]] || printf '%s\0' --exit-on-crash
		;;
	heroku) printf '%s\0' "$HEROKU" local ;;
	nf) printf '%s\0' "$NF" start ;;
	foreman) printf '%s\0' foreman start ;;
	*) die "unknown runner $r" ;;
	esac
}
kind_of() { echo "$1"; } # benchtool's output-format name is the runner's name
label() {
	case $1 in
	direct) echo "direct (no runner)" ;;
	dynobox) echo "dynobox" ;;
	heroku) echo "heroku local" ;;
	nf) echo "node-foreman (nf)" ;;
	foreman) echo "foreman (ruby)" ;;
	esac
}

# One app directory per runner and benchmark, fresh for each script run.
APPS=$OUT/apps
rm -rf "$APPS"
for r in $RUNNERS; do
	mkdir -p "$APPS/$r/relay" "$APPS/$r/first" "$APPS/$r/idle"
	printf 'spam: %s\n' "$RELAY_CMD" >"$APPS/$r/relay/Procfile"
	printf 'hello: %s\n' "$FIRST_CMD" >"$APPS/$r/first/Procfile"
	for i in $(seq 1 $IDLE_DYNOS); do printf 'idle%d: %s\n' "$i" "$IDLE_CMD"; done >"$APPS/$r/idle/Procfile"
done

versions() { # the same at the start and at the end, even if the tree moved meanwhile
	echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
	echo "go: $(go version | awk '{print $3}'), node: $(node --version 2>/dev/null || echo -), ruby: $(ruby -e 'print RUBY_VERSION' 2>/dev/null || echo -)"
	wants dynobox && echo "dynobox: $DYNOBOX ($DYNOBOX_REV)"
	wants heroku && echo "heroku: $("$HEROKU" --version 2>/dev/null | head -n1)"
	wants nf && echo "node-foreman: $(node -p "require('$PEERS/node_modules/foreman/package.json').version")"
	wants foreman && echo "foreman: $(foreman version)"
	echo "lines: $LINES, relay runs: $RUNS, first-line runs: $FIRST_RUNS (+1 warm-up), memory runs: $MEM_RUNS"
}
versions | tee "$OUT/versions.txt" >&2
load_before=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load_before" -v n="$(nproc)" 'BEGIN{exit !(l > n/2)}'; then
	log "WARNING: load average $load_before on $(nproc) cores: something else is running; wall times will be noisy (CPU times less so)"
fi

# Results, by runner.
declare -A RELAY_S RELAY_CPU RELAY_LOST RELAY_BAD RELAY_MIS RELAY_DUP RELAY_ORDER FIRST_MS MEM_MB MEM_ANON MEM_PSS MEM_PROCS NOTES
note() { NOTES[$1]+="${NOTES[$1]:+; }$2"; }

# ------------------------------------------------------------------ 2. first line
# Runs first: its discarded warm-up launch also warms the page cache for the
# other two benchmarks.

log ""
log "== start to first line ($FIRST_RUNS runs + 1 warm-up, round-robin)"
declare -A firsts
for run in $(seq 0 "$FIRST_RUNS"); do
	for r in $RUNNERS; do
		mapfile -d '' cmd < <(runner_cmd "$r" first)
		outf=$OUT/first-$r.log
		if ! res=$("$BT" first -dir "$APPS/$r/first" -out "$outf" -kind "$(kind_of "$r")" -proc hello.1 -- "${cmd[@]}" 2>>"$DETAIL"); then
			log "  $r: no first line, see $outf and $DETAIL"
			note "$r" "first line never seen (run $run)"
			continue
		fi
		echo "first $r run=$run $res" >>"$DETAIL"
		[[ $(kv leftovers "$res") == 0 ]] || note "$r" "first-line run $run: $(kv leftovers "$res") process(es) left after the runner exited on SIGINT"
		[[ $run == 0 ]] && continue
		firsts[$r]+=" $(kv ms "$res")"
	done
done
for r in $RUNNERS; do
	FIRST_MS[$r]=$(median <<<"${firsts[$r]:-}")
	log "  $(label "$r"): ${firsts[$r]:-} ms -> median ${FIRST_MS[$r]}"
done

# ------------------------------------------------------------------ 1. log relay

log ""
log "== log relay: $LINES lines, output to a file ($RUNS runs, round-robin)"
declare -A times cpus lost bad mis dup order exits
for run in $(seq 1 "$RUNS"); do
	for r in $RUNNERS; do
		mapfile -d '' cmd < <(runner_cmd "$r" relay)
		outf=$OUT/relay-$r.log
		[[ $KEEP_LOGS == 1 ]] && outf=$OUT/relay-$r-$run.log
		res=$("$BT" run -dir "$APPS/$r/relay" -out "$outf" -- "${cmd[@]}" 2>>"$DETAIL")
		chk=$("$BT" check -kind "$(kind_of "$r")" -proc spam.1 -n "$LINES" "$outf" 2>>"$DETAIL")
		echo "relay $r run=$run $res $chk" >>"$DETAIL"
		log "  run $run $(label "$r"): $res $chk"
		times[$r]+=" $(kv seconds "$res")"
		cpus[$r]+=" $(kv cpu "$res")"
		lost[$r]+=" $(kv lost "$chk")"
		bad[$r]+=" $(kv bad "$chk")"
		mis[$r]+=" $(kv mislabelled "$chk")"
		dup[$r]+=" $(kv dup "$chk")"
		order[$r]+=" $(kv reordered "$chk")"
		[[ $(kv exit "$res") == 0 ]] || exits[$r]+=" run$run:exit=$(kv exit "$res")"
		[[ $(kv timeout "$res") == false ]] || note "$r" "relay run $run timed out"
		[[ $(kv leftovers "$res") == 0 ]] || note "$r" "relay run $run: $(kv leftovers "$res") process(es) left after the runner exited"
	done
done
for r in $RUNNERS; do
	RELAY_S[$r]=$(median <<<"${times[$r]}")
	RELAY_CPU[$r]=$(median <<<"${cpus[$r]}")
	RELAY_LOST[$r]=$(max <<<"${lost[$r]}")
	RELAY_BAD[$r]=$(max <<<"${bad[$r]}")
	RELAY_MIS[$r]=$(max <<<"${mis[$r]}")
	RELAY_DUP[$r]=$(max <<<"${dup[$r]}")
	RELAY_ORDER[$r]=$(max <<<"${order[$r]}")
	[[ -z ${exits[$r]:-} ]] || note "$r" "relay exit status not 0:${exits[$r]}"
	[[ ${RELAY_ORDER[$r]} == 0 ]] || note "$r" "relay: ${RELAY_ORDER[$r]} lines out of order"
done

# ------------------------------------------------------------------ 3. memory

log ""
log "== memory with $IDLE_DYNOS idle dynos (RSS of the runner's own processes, 2 s after all dynos are up)"
declare -A mems anons psss
for run in $(seq 1 "$MEM_RUNS"); do
	for r in $RUNNERS; do
		[[ $r == direct ]] && continue
		mapfile -d '' cmd < <(runner_cmd "$r" idle)
		if ! res=$("$BT" rss -dir "$APPS/$r/idle" -out "$OUT/idle-$r.log" -dynos $IDLE_DYNOS -dyno-cmd "$IDLE_CMD" -settle 2s -- "${cmd[@]}" 2>>"$DETAIL"); then
			log "  $r: failed, see $OUT/idle-$r.log and $DETAIL"
			note "$r" "memory run $run failed"
			continue
		fi
		echo "idle $r run=$run $res" >>"$DETAIL"
		log "  run $run $(label "$r"): $res"
		mems[$r]+=" $(kv mb "$res")"
		anons[$r]+=" $(kv anon_mb "$res")"
		psss[$r]+=" $(kv pss_mb "$res")"
		MEM_PROCS[$r]=$(kv procs "$res")
		[[ $(kv leftovers "$res") == 0 ]] || note "$r" "memory run $run: $(kv leftovers "$res") process(es) left after the runner exited on SIGINT"
	done
done
for r in $RUNNERS; do
	MEM_MB[$r]=$(median <<<"${mems[$r]:-}")
	MEM_ANON[$r]=$(median <<<"${anons[$r]:-}")
	MEM_PSS[$r]=$(median <<<"${psss[$r]:-}")
done

# ------------------------------------------------------------------ report

base=${RELAY_S[direct]:--}
base_cpu=${RELAY_CPU[direct]:--}
dyn_first=${FIRST_MS[dynobox]:--}
dyn_mem=${MEM_MB[dynobox]:--}
{
	echo "Log relay: one dyno prints $LINES lines, runner output to a file; medians of $RUNS runs."
	echo
	echo "| runner | wall s | × direct | CPU s | × direct | lost lines | split/mangled | mislabelled | dup |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for r in $RUNNERS; do
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
			"$(label "$r")" "${RELAY_S[$r]}" "$(ratio "${RELAY_S[$r]}" "$base")" \
			"${RELAY_CPU[$r]}" "$(ratio "${RELAY_CPU[$r]}" "$base_cpu")" \
			"${RELAY_LOST[$r]}" "${RELAY_BAD[$r]}" "${RELAY_MIS[$r]}" "${RELAY_DUP[$r]}"
	done
	echo
	echo "CPU s: the runner and every process it waited for, the dyno included. Lost, split/mangled and"
	echo "dup: the worst of the runs. Split/mangled counts output lines whose payload is not one whole"
	echo "\"line NNNNNNN\" (a line cut in two gives two such pieces and one lost line). Mislabelled: whole"
	echo "lines without the process's tag (not counted as lost)."
	echo
	echo "Start-up (median of $FIRST_RUNS launches) and memory with $IDLE_DYNOS idle dynos (2 s after all are up;"
	echo "the runner's own processes, not the sleep dynos nor their sh wrappers; median of $MEM_RUNS)."
	echo
	echo "| runner | first line ms | × dynobox | RSS MB | × dynobox | anon MB | PSS MB | processes |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for r in $RUNNERS; do
		if [[ $r == direct ]]; then
			printf '| %s | %s | %s | — | — | — | — | — |\n' "$(label "$r")" "${FIRST_MS[$r]}" "$(ratio "${FIRST_MS[$r]}" "$dyn_first")"
			continue
		fi
		printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' \
			"$(label "$r")" "${FIRST_MS[$r]}" "$(ratio "${FIRST_MS[$r]}" "$dyn_first")" \
			"${MEM_MB[$r]}" "$(ratio "${MEM_MB[$r]}" "$dyn_mem")" "${MEM_ANON[$r]}" "${MEM_PSS[$r]}" "${MEM_PROCS[$r]:-?}"
	done
	echo
	echo "RSS: summed VmRSS. anon: summed RssAnon, the memory the processes allocated (RSS minus mapped"
	echo "files such as the executable, whose resident share depends on the page cache). PSS: RSS with"
	echo "pages shared between processes (dynobox and its watchdog run the same binary) counted once."
	echo "× dynobox: the runner's figure divided by dynobox's (above 1: dynobox is faster or smaller)."
	echo "Load average (1 min) before / after: $load_before / $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores."
	for r in $RUNNERS; do
		[[ -z ${NOTES[$r]:-} ]] || echo "- $(label "$r"): ${NOTES[$r]}"
	done
	if wants dynobox; then
		problems=()
		[[ ${RELAY_LOST[dynobox]} == 0 ]] || problems+=("loses ${RELAY_LOST[dynobox]} of $LINES lines")
		[[ ${RELAY_BAD[dynobox]} == 0 ]] || problems+=("writes ${RELAY_BAD[dynobox]} split or mangled lines")
		[[ ${RELAY_MIS[dynobox]} == 0 ]] || problems+=("writes ${RELAY_MIS[dynobox]} lines without the app[spam.1] tag")
		[[ ${RELAY_DUP[dynobox]} == 0 ]] || problems+=("duplicates ${RELAY_DUP[dynobox]} lines")
		if [[ $base != - && ${RELAY_S[dynobox]} != - ]] && awk -v a="${RELAY_S[dynobox]}" -v b="$base" 'BEGIN{exit !(a > 2*b)}'; then
			problems+=("relays at $(ratio "${RELAY_S[dynobox]}" "$base")× direct wall time (CPU $(ratio "${RELAY_CPU[dynobox]}" "$base_cpu")× direct), over the 2× budget${QUICK_NOTE:-}")
		fi
		if ((${#problems[@]})); then
			echo
			echo "DYNOBOX PROBLEMS: $(
				IFS=';'
				echo "${problems[*]}"
			)"
		fi
	fi
} >"$OUT/results.md"

echo
versions
echo
cat "$OUT/results.md"
echo
echo "details: $DETAIL; outputs: $OUT/{relay,first,idle}-*.log; took $(($(date +%s) - started)) s"
