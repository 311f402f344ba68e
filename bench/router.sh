#!/usr/bin/env bash
# bench/router.sh — dynobox's router against nginx as a reverse proxy, on
# this machine, in one run: wrk against a trivial web dyno directly, through
# the router, and through nginx, interleaved, at a few concurrencies.
#
#   bash bench/router.sh            # 3 runs of 10 s per target and concurrency, about 5 minutes
#   QUICK=1 bash bench/router.sh    # 1 run of 5 s
#
# Environment:
#   CONNS="10 50 200"  wrk connections (10 is "moderate" for a local app)
#   TARGETS="direct router nginx"  which to measure; add "stdproxy" for
#                      the floor: net/http's server and an http.Transport
#                      with nothing of the router's (routerbench stdproxy)
#   BASELINE=REV       also measure the router of git revision REV (built
#                      from `git archive`), as target "baseline": what a
#                      change to the router cost, in the same run
#   VARIANTS="NAME:VAR=VAL[,VAR=VAL…] …"  also this tree's router (or, for a
#                      NAME starting with stdproxy, the floor) with some
#                      environment, as target NAME: an A/B of a runtime
#                      setting in one run (VARIANTS="gc100:GOGC=100")
#   THREADS=1          wrk threads: the machine's CPUs are shared by wrk, the
#                      dyno and the proxy, so keep the load generator small
#   RUNS=3 DURATION=10 WARMUP=2   repeats and seconds (WARMUP once per
#                      concurrency; RUN_WARMUP=1 s before every measured run)
#   OUT=/tmp/dynobox-router-bench results (router-results.md, router-raw.tsv) and logs
#   PROFILE=1          the router writes CPU and allocation profiles to $OUT
#                      (router-cpu.pprof, router-mem.pprof; go tool pprof)
#
# Needs wrk and nginx (Debian: apt-get install -y wrk nginx-light) and go.
# Both proxies add Heroku's headers and keep connections to the dyno alive;
# the router also formats its log line for every request (and drops it),
# nginx has access_log off.
#
# Besides req/s and latency, each run records the CPU time the proxy and
# the dyno used per request (from /proc, utime+stime of the process and its
# children): the machine's 2 cores are shared by wrk, the dyno and the
# proxy, so CPU per request is what decides the throughput, and it varies
# much less than req/s when other work runs on the machine.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
OUT=${OUT:-${TMPDIR:-/tmp}/dynobox-router-bench}
if [[ ${QUICK:-0} == 1 ]]; then
	RUNS=${RUNS:-1}
	DURATION=${DURATION:-5}
else
	RUNS=${RUNS:-3}
	DURATION=${DURATION:-10}
fi
WARMUP=${WARMUP:-2}
RUN_WARMUP=${RUN_WARMUP:-1}
CONNS=${CONNS:-10 50 200}
THREADS=${THREADS:-1}
TARGETS=${TARGETS:-direct router nginx}
if [[ -n ${BASELINE:-} ]]; then
	TARGETS="$TARGETS baseline"
fi
declare -A VARENV=()
for v in ${VARIANTS:-}; do
	[[ $v == *:*=* ]] || { echo "router.sh: VARIANTS: $v is not NAME:VAR=VAL[,VAR=VAL…]" >&2; exit 2; }
	VARENV[${v%%:*}]=${v#*:}
	TARGETS="$TARGETS ${v%%:*}"
done

log() { printf '%s\n' "$*" >&2; }
die() {
	log "router.sh: $*"
	exit 1
}
# median of the numbers on stdin, one a line.
median() { sort -g | awk '{a[NR]=$1} END{if(!NR){print "-"; exit} print a[int((NR+1)/2)]}'; }

command -v go >/dev/null || die "go is not on PATH"
command -v wrk >/dev/null || die "wrk is missing: apt-get install -y wrk"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $NGINX ]] || die "nginx is missing: apt-get install -y nginx-light"

mkdir -p "$OUT"
rm -rf "$OUT/nginx"
mkdir -p "$OUT/nginx"
log "building bench/routerbench"
(cd "$ROOT" && go build -o "$OUT/routerbench" ./bench/routerbench)
if [[ -n ${BASELINE:-} ]]; then
	log "building bench/routerbench of $BASELINE"
	rm -rf "$OUT/baseline-src"
	mkdir -p "$OUT/baseline-src"
	git -C "$ROOT" archive "$BASELINE" | tar -x -C "$OUT/baseline-src"
	(cd "$OUT/baseline-src" && go build -o "$OUT/routerbench-baseline" ./bench/routerbench)
fi

PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# start NAME CMD...: runs a routerbench server in the background (not in a
# subshell, so that cleanup can stop it) and sets ADDR to its address.
start() {
	local name=$1 f=$OUT/$1.out
	shift
	"$@" >"$f" 2>"$OUT/$name.err" &
	PIDS+=($!)
	for _ in $(seq 100); do
		if grep -q '^listening ' "$f" 2>/dev/null; then
			ADDR=$(sed -n 's/^listening //p' "$f")
			return
		fi
		sleep 0.05
	done
	die "$name did not start: $(cat "$OUT/$name.err")"
}

# free_port: a loopback port nothing listens on.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port"
}

start backend "$OUT/routerbench" backend
BACKEND=$ADDR
BACKEND_PID=${PIDS[-1]}
PROF=()
if [[ ${PROFILE:-0} == 1 ]]; then
	PROF=(-cpuprofile "$OUT/router-cpu.pprof" -memprofile "$OUT/router-mem.pprof")
fi
start router "$OUT/routerbench" router -backend "$BACKEND" "${PROF[@]}"
ROUTER=$ADDR
ROUTER_PID=${PIDS[-1]}
NGINX_ADDR=127.0.0.1:$(free_port)
N=$OUT/nginx
cat >"$N/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $N/nginx.pid;
error_log $N/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $N/body;
	proxy_temp_path $N/proxy;
	fastcgi_temp_path $N/fastcgi;
	uwsgi_temp_path $N/uwsgi;
	scgi_temp_path $N/scgi;
	upstream dyno {
		server $BACKEND;
		keepalive 512;
	}
	server {
		listen $NGINX_ADDR;
		location / {
			proxy_pass http://dyno;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$http_host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto \$scheme;
			proxy_set_header X-Forwarded-Port \$server_port;
			proxy_set_header X-Request-Start \$msec;
			proxy_set_header X-Request-Id \$request_id;
			proxy_set_header Via "1.1 vegur";
		}
	}
}
EOF
"$NGINX" -p "$N" -c "$N/nginx.conf" 2>"$N/stderr.log" &
PIDS+=($!)
NGINX_PID=$!
declare -A PID=([direct]=0 [router]=$ROUTER_PID [nginx]=$NGINX_PID)
declare -A URL=([direct]="http://$BACKEND/" [router]="http://$ROUTER/" [nginx]="http://$NGINX_ADDR/")
if [[ " $TARGETS " == *" stdproxy "* ]]; then
	start stdproxy "$OUT/routerbench" stdproxy -backend "$BACKEND"
	PID[stdproxy]=${PIDS[-1]}
	URL[stdproxy]="http://$ADDR/"
fi
if [[ -n ${BASELINE:-} ]]; then
	start baseline "$OUT/routerbench-baseline" router -backend "$BACKEND"
	PID[baseline]=${PIDS[-1]}
	URL[baseline]="http://$ADDR/"
fi
for name in "${!VARENV[@]}"; do
	IFS=, read -r -a envs <<<"${VARENV[$name]}"
	mode=router
	[[ $name == stdproxy* ]] && mode=stdproxy
	start "$name" env "${envs[@]}" "$OUT/routerbench" "$mode" -backend "$BACKEND"
	PID[$name]=${PIDS[-1]}
	URL[$name]="http://$ADDR/"
done
for t in $TARGETS; do
	for _ in $(seq 100); do
		[[ $(curl -s "${URL[$t]}" 2>/dev/null || true) == "Hello, world!" ]] && continue 2
		sleep 0.05
	done
	die "$t does not answer at ${URL[$t]}"
done

{
	echo "date: $(date -u +%FT%TZ)"
	echo "machine: $(nproc) CPUs, $(uname -sr)"
	go version
	"$NGINX" -v 2>&1
	{ wrk -v 2>&1 || true; } | head -1
} >"$OUT/versions.txt"

# cputicks PID...: utime+stime of the processes and their children, in
# clock ticks; 0 for pid 0.
cputicks() {
	local t=0 p q
	for p in "$@"; do
		[[ $p == 0 ]] && continue
		for q in $p $(pgrep -P "$p" || true); do
			t=$((t + $(awk '{print $14 + $15}' "/proc/$q/stat" 2>/dev/null || echo 0)))
		done
	done
	echo "$t"
}
HZ=$(getconf CLK_TCK)

# rss PID: resident memory of the process and its children, in MB ("-" for
# pid 0), as ps -o rss reports it.
rss() {
	[[ $1 == 0 ]] && { echo -; return; }
	ps -o rss= -p "$1" $(pgrep -P "$1" | sed 's/^/-p /') | awk '{t += $1} END{printf "%.1f\n", t / 1024}'
}

# idleticks: the machine's idle time so far, all CPUs, in clock ticks.
idleticks() { awk '/^cpu /{print $5 + $6}' /proc/stat; }

# measure TARGET CONNS SECONDS: one wrk run; prints "rps p50 p75 p90 p99
# proxy_cpu_us dyno_cpu_us idle_us load1 rss_mb" (latencies in µs, CPU in µs
# per request, load1 the machine's 1-minute load average at the end, rss_mb
# the proxy's resident memory at the end). idle is the time the machine's CPUs had nothing to run, per
# request: the three processes keep both CPUs busy only if their work
# overlaps.
measure() {
	local p0 d0 i0 p1 d1 i1
	p0=$(cputicks "${PID[$1]}")
	d0=$(cputicks "$BACKEND_PID")
	i0=$(idleticks)
	wrk -t"$THREADS" -c"$2" -d"$3"s --latency "${URL[$1]}" >"$OUT/wrk.out"
	p1=$(cputicks "${PID[$1]}")
	d1=$(cputicks "$BACKEND_PID")
	i1=$(idleticks)
	awk -v pt=$((p1 - p0)) -v dt=$((d1 - d0)) -v it=$((i1 - i0)) -v hz="$HZ" -v load="$(cut -d' ' -f1 /proc/loadavg)" -v rss="$(rss "${PID[$1]}")" '
		function us(v) {
			if (v ~ /us$/) return v + 0
			if (v ~ /ms$/) return v * 1000
			if (v ~ /s$/) return v * 1000000
			return v
		}
		/^ +50%/ { p50 = us($2) } /^ +75%/ { p75 = us($2) }
		/^ +90%/ { p90 = us($2) } /^ +99%/ { p99 = us($2) }
		/^Requests\/sec:/ { rps = $2 }
		/ requests in / { n = $1 }
		/Non-2xx|Socket errors/ { print "router.sh: " $0 > "/dev/stderr" }
		END { printf "%s %s %s %s %s %.2f %.2f %.2f %s %s\n", rps, p50, p75, p90, p99, pt * 1e6 / hz / n, dt * 1e6 / hz / n, it * 1e6 / hz / n, load, rss }' "$OUT/wrk.out"
}

# rotate N WORD...: the words, rotated left N times.
rotate() {
	local n=$1
	shift
	local w=("$@")
	n=$((n % ${#w[@]}))
	echo "${w[@]:n}" "${w[@]:0:n}"
}

RAW=$OUT/router-raw.tsv
printf 'conns\ttarget\trun\trps\tp50_us\tp75_us\tp90_us\tp99_us\tproxy_cpu_us\tdyno_cpu_us\tidle_us\tload1\trss_mb\n' >"$RAW"
LOAD_BEFORE=$(uptime)
for c in $CONNS; do
	for t in $TARGETS; do measure "$t" "$c" "$WARMUP" >/dev/null; done
	for run in $(seq "$RUNS"); do
		# Interleaved, so that drift hits all alike, and in an order that
		# rotates run by run: a target measured right after direct found
		# the dyno still busy with the flood direct had sent it (the one
		# always second measured a few % low). Each run is preceded by a
		# short warm-up against its own target.
		order=$(rotate "$((run - 1))" $TARGETS)
		for t in $order; do
			measure "$t" "$c" "$RUN_WARMUP" >/dev/null
			read -r rps p50 p75 p90 p99 pcpu dcpu idle load mem < <(measure "$t" "$c" "$DURATION")
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$t" "$run" "$rps" "$p50" "$p75" "$p90" "$p99" "$pcpu" "$dcpu" "$idle" "$load" "$mem" >>"$RAW"
			log "c=$c $t run $run: $rps req/s, p50 ${p50}µs p99 ${p99}µs, per request: CPU proxy ${pcpu}µs dyno ${dcpu}µs, idle ${idle}µs; RSS ${mem} MB; load $load"
		done
	done
done

# med CONNS TARGET COLUMN: the median over runs.
med() { awk -F'\t' -v c="$1" -v t="$2" -v k="$3" 'NR>1 && $1==c && $2==t {print $k}' "$RAW" | median; }

# The Go servers print what their garbage collector cost at SIGTERM
# (routerbench's gcReport): stop them now to have it for the results.
GO_TARGETS=()
for t in $TARGETS; do
	[[ $t == direct || $t == nginx ]] || GO_TARGETS+=("$t")
done
for t in "${GO_TARGETS[@]}"; do kill -TERM "${PID[$t]}" 2>/dev/null || true; done
for t in "${GO_TARGETS[@]}"; do wait "${PID[$t]}" 2>/dev/null || true; done

RES=$OUT/router-results.md
{
	echo "# Router benchmark: wrk → trivial dyno, direct / dynobox router / nginx"
	echo
	echo "Medians of $RUNS run(s) of ${DURATION}s, wrk -t$THREADS, $(nproc) CPUs shared by wrk, dyno and proxy."
	echo "Ratios are against the direct run; *added* is proxied minus direct; CPU and idle (the machine's CPUs with nothing to run) are µs per request;"
	echo "load is the 1-minute load average at the end of each run (lowest–highest over the runs); RSS the proxy's resident MB at the end of a run (highest over the runs)."
	echo
	echo "Load before: $LOAD_BEFORE"
	echo "Load after:  $(uptime)"
	echo
	echo "| conns | target | req/s | req/s ratio | p50 µs | p90 µs | p99 µs | p50 added µs | p99 added µs | p99 ratio | proxy CPU | dyno CPU | idle | RSS MB | load |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	for c in $CONNS; do
		d_rps=$(med "$c" direct 4)
		d_p50=$(med "$c" direct 5)
		d_p99=$(med "$c" direct 8)
		for t in $TARGETS; do
			rps=$(med "$c" "$t" 4)
			p50=$(med "$c" "$t" 5)
			p90=$(med "$c" "$t" 7)
			p99=$(med "$c" "$t" 8)
			pcpu=$(med "$c" "$t" 9)
			dcpu=$(med "$c" "$t" 10)
			idle=$(med "$c" "$t" 11)
			load=$(awk -F'\t' -v c="$c" -v t="$t" 'NR>1 && $1==c && $2==t {print $12}' "$RAW" | sort -g |
				awk 'NR==1{lo=$1} {hi=$1} END{print (lo == hi ? lo : lo "–" hi)}')
			mem=$(awk -F'\t' -v c="$c" -v t="$t" 'NR>1 && $1==c && $2==t {print $13}' "$RAW" | sort -g | tail -1)
			awk -v c="$c" -v t="$t" -v rps="$rps" -v p50="$p50" -v p90="$p90" -v p99="$p99" \
				-v drps="$d_rps" -v dp50="$d_p50" -v dp99="$d_p99" -v pcpu="$pcpu" -v dcpu="$dcpu" -v idle="$idle" -v mem="$mem" -v load="$load" 'BEGIN {
				printf "| %s | %s | %.0f | %.2f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f | %s | %.1f | %.1f | %s | %s |\n",
					c, t, rps, rps / drps, p50, p90, p99, p50 - dp50, p99 - dp99, p99 / dp99,
					(t == "direct" ? "—" : sprintf("%.1f", pcpu)), dcpu, idle, (t == "direct" ? "—" : mem), load }'
		done
	done
	echo
	for t in $TARGETS; do
		[[ $t == direct || $t == nginx ]] && continue
		echo "$t vs nginx (throughput ratio $t/nginx; CPU per request, $t/nginx):"
		for c in $CONNS; do
			awk -v c="$c" -v r="$(med "$c" "$t" 4)" -v n="$(med "$c" nginx 4)" \
				-v rc="$(med "$c" "$t" 9)" -v nc="$(med "$c" nginx 9)" \
				'BEGIN { printf "- c=%s: %.2f (CPU %.1f / %.1f µs = %.2f)\n", c, r / n, rc, nc, rc / nc }'
		done
	done
	echo
	echo "Garbage collection over the whole script (warm-ups and every concurrency), from each Go server's runtime/metrics:"
	for t in "${GO_TARGETS[@]}"; do
		gc=$(sed -n 's/^gc: //p' "$OUT/$t.out")
		echo "- $t: ${gc:-not reported}"
	done
	echo
	sed 's/^/    /' "$OUT/versions.txt"
} >"$RES"
cat "$RES"
