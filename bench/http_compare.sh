#!/usr/bin/env bash
# HTTP benchmark: gocxx's hello-world server (`gocxx-bench http_hello`, the code of
# examples/http_server) against the raw-epoll server and Go's net/http from ../shared/anchors,
# all driven by wrk on 127.0.0.1 in one session: http_hello and http_hello_p99 exactly as
# ../shared/anchors/README.md defines them, plus the server's CPU time and syscalls per request.
#
# usage: bench/http_compare.sh
#
# RUNS rounds, each round running every impl once (interleaved: gocxx, epoll, go, gocxx, ... so
# that a change in the machine's load hits all of them): the server is started pinned to core
# SERVER_CPU with SERVER_PROCS procs (threads for epoll, GOMAXPROCS for Go), and
# `wrk $WRK_ARGS --latency`, pinned to core CLIENT_CPU, loads it. Reported per impl, medians over
# the runs:
#   bench=http_hello impl=<impl> procs=<N> value=<req/s> unit=req/s
#   bench=http_hello_p99 impl=<impl> procs=<N> value=<us> unit=us
#   bench=http_hello_cpu impl=<impl> procs=<N> value=<us> unit=us/req
#   bench=http_hello_syscalls impl=<impl> procs=<N> value=<calls> unit=calls/req
# req/s and p99 are wrk's, read as anchors/run.sh reads them. cpu is the server's CPU time
# (utime + stime of /proc/<pid>/stat, every thread) from just before wrk starts to just after it
# ends, divided by the requests wrk completed: steadier than req/s on a noisy VM. A run in which
# wrk reports socket errors or non-2xx responses is noted and left out.
#
# syscalls comes from one more pass per impl after the timed rounds, since strace slows the
# server down several times over: the server runs under `strace -c -f` (both pinned to
# SERVER_CPU, so wrk keeps its core) with max_seconds = STRACE_SECONDS + 3, so that it exits by
# itself and strace writes its summary, while wrk drives it for STRACE_SECONDS with WRK_ARGS'
# threads and connections. Start-up, the idle time around wrk and exit are taken out by a second
# pass of the same server without wrk (same lifetime, same start-up port probe):
#   syscalls/req = (calls with wrk - calls without) / requests wrk completed.
# Left in: setting up and closing wrk's connections (part of the load). Small biases: the idle
# wake-ups that the load replaces (epoll's 200 ms epoll_wait timeouts, Go's sysmon) are
# subtracted all the same, tens to hundreds of calls against the load's hundreds of thousands;
# and a server slowed by strace finds more ready per epoll_wait than at full speed, so the count
# is a little low, for every impl alike.
#
# Then a table of the medians, and the issue's targets: req/s >= 0.9 x epoll, CPU per request
# <= 1.15 x epoll's, syscalls per request <= epoll's + 0.5, p99 <= Go's.
#
# environment:
#   RUNS=3  SERVER_PROCS=1  SERVER_CPU=0  CLIENT_CPU=1
#   IMPLS="gocxx epoll go"
#   WRK_ARGS="-t1 -c100 -d5s"  wrk's options (--latency is added; -d is wrk's default 10s if not given)
#   STRACE_SECONDS=3           wrk's duration in the syscall pass; 0 skips it (and its bench= line)
#   PORT=19200                 first port tried on 127.0.0.1
#   GOCXX_BENCH=<path>         gocxx-bench to use; default: build it (Release) in $WORK/build
#   ANCHORS=<dir>              the anchors (go/, epoll/server.cpp); default $ROOT/../shared/anchors
#   WORK=<dir>                 binaries and results; default build/http_compare (git-ignored)
#   GOCACHE                    default /tmp/gocache (go build needs no network: stdlib only)
#   CXX                        compiler for epoll_http; default g++
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-3}
SERVER_PROCS=${SERVER_PROCS:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
IMPLS=${IMPLS:-"gocxx epoll go"}
WRK_ARGS=${WRK_ARGS:-"-t1 -c100 -d5s"}
STRACE_SECONDS=${STRACE_SECONDS:-3}
PORT=${PORT:-19200}
ANCHORS=${ANCHORS:-"$ROOT/../shared/anchors"}
WORK=${WORK:-"$ROOT/build/http_compare"}
export GOCACHE=${GOCACHE:-/tmp/gocache}
RESULTS="$WORK/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$WORK" "$RESULTS"
RAW="$RESULTS/raw.txt"
ERR="$RESULTS/stderr.txt"
: >"$RAW"
COMPARE_NAME=http_compare
# shellcheck source=bench/compare_lib.sh
. "$HERE/compare_lib.sh"

# The server's lifetime in the syscall pass beyond wrk's STRACE_SECONDS: room for the start-up
# under strace. The pass without wrk lives exactly as long.
STRACE_MARGIN=3

# ------------------------------------------------------------------ checks
is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }
for v in RUNS SERVER_PROCS SERVER_CPU CLIENT_CPU STRACE_SECONDS PORT; do
    is_uint "${!v}" || die "$v must be a whole number, not \"${!v}\""
done
[ "$RUNS" -ge 1 ] || die "RUNS must be at least 1"
[ "$SERVER_PROCS" -ge 1 ] || die "SERVER_PROCS must be at least 1"
if [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then die "PORT must be in 1..65535, not $PORT"; fi
for impl in $IMPLS; do
    case $impl in gocxx | epoll | go) ;; *) die "unknown impl \"$impl\" in IMPLS (gocxx, epoll, go)" ;; esac
done
[ -n "${IMPLS// /}" ] || die "IMPLS is empty"
has_impl() { case " $IMPLS " in *" $1 "*) return 0 ;; esac; return 1; }

need taskset "util-linux"
need wrk "apt-get install wrk"
[ "$STRACE_SECONDS" = 0 ] || need strace "apt-get install strace; or STRACE_SECONDS=0 to skip syscalls"
taskset -c "$SERVER_CPU" true 2>/dev/null || die "SERVER_CPU=$SERVER_CPU: no such core to pin to"
taskset -c "$CLIENT_CPU" true 2>/dev/null || die "CLIENT_CPU=$CLIENT_CPU: no such core to pin to"

# wrk's options without its duration (-d 5s, -d5s, --duration 5s, --duration=5s) in WRK_BASE,
# the duration in whole seconds in WRK_SECS: each pass sets its own -d.
read -r -a wrk_words <<<"$WRK_ARGS"
WRK_BASE=()
wrk_duration=10s # wrk's default
for ((i = 0; i < ${#wrk_words[@]}; i++)); do
    w=${wrk_words[i]}
    case $w in
    -d | --duration)
        ((i + 1 < ${#wrk_words[@]})) || die "WRK_ARGS: $w needs a value"
        i=$((i + 1)); wrk_duration=${wrk_words[i]} ;;
    --duration=*) wrk_duration=${w#--duration=} ;;
    -d*) wrk_duration=${w#-d} ;;
    *) WRK_BASE+=("$w") ;;
    esac
done
case $wrk_duration in
*[0-9]s) WRK_SECS=${wrk_duration%s} ;;
*[0-9]m) WRK_SECS=$((${wrk_duration%m} * 60)) ;;
*[0-9]h) WRK_SECS=$((${wrk_duration%h} * 3600)) ;;
*) WRK_SECS=$wrk_duration ;;
esac
if ! is_uint "$WRK_SECS" || [ "$WRK_SECS" -lt 1 ]; then
    die "WRK_ARGS: duration \"$wrk_duration\" is not a whole number of seconds (5s, 1m, ...)"
fi

# ------------------------------------------------------------------ build
if has_impl go; then
    need go "apt-get install golang-go"
    echo "# building go_anchors ($(go version | cut -d' ' -f3))" >&2
    # -o points out of the anchors' folder, so a read-only copy of it builds as well.
    (cd "$ANCHORS/go" && CGO_ENABLED=0 go build -trimpath -o "$WORK/go_anchors" .) ||
        die "go build of $ANCHORS/go failed"
fi
if has_impl epoll; then
    src="$ANCHORS/epoll/server.cpp"
    [ -f "$src" ] || die "no $src (set ANCHORS)"
    if [ ! -x "$WORK/epoll_http" ] || [ "$src" -nt "$WORK/epoll_http" ]; then
        echo "# building epoll_http" >&2
        # anchors/run.sh's flags: static where the toolchain allows it.
        cxx=${CXX:-g++} flags="-O2 -std=c++17 -pthread"
        # shellcheck disable=SC2086
        $cxx $flags -static -o "$WORK/epoll_http" "$src" 2>>"$ERR" ||
            $cxx $flags -static-libstdc++ -static-libgcc -o "$WORK/epoll_http" "$src" 2>>"$ERR" ||
            die "epoll_http build failed (see $ERR)"
    fi
fi
if has_impl gocxx; then build_gocxx_bench; fi

# ------------------------------------------------------------------ runs
# server_argv IMPL PORT MAX_SECONDS: the server's command line in SERVER_ARGV.
server_argv() {
    case $1 in
    gocxx) SERVER_ARGV=("$GOCXX_BENCH" http_hello "$SERVER_PROCS" "$2" "$3") ;;
    go) SERVER_ARGV=("$WORK/go_anchors" http_hello "$SERVER_PROCS" "$2" "$3") ;;
    epoll) SERVER_ARGV=("$WORK/epoll_http" "$SERVER_PROCS" "$2" "$3") ;;
    esac
}

# run_wrk SECONDS: wrk against 127.0.0.1:$PORT on CLIENT_CPU; its output on stdout.
run_wrk() {
    timeout $(($1 + 30)) taskset -c "$CLIENT_CPU" \
        wrk "${WRK_BASE[@]}" -d "${1}s" --latency "http://127.0.0.1:$PORT/" 2>&1
}

# Readers of wrk's output (stdin).
wrk_rate() { awk '/^Requests\/sec:/ {print $2}'; }
wrk_requests() { awk '/ requests in / {print $1}'; }
wrk_errors() { grep -e 'Socket errors' -e 'Non-2xx' | sed 's/^ *//' | tr '\n' ' '; }
# p99 in microseconds, as anchors/run.sh converts wrk's 1.23ms / 456.00us / 1.02s.
wrk_p99_us() {
    awk '$1 == "99%" {
        v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
        if (u == "us") f = 1; else if (u == "ms") f = 1000; else if (u == "s") f = 1000000; else f = 0.001
        printf "%.6g", v * f }'
}

# one_run IMPL ROUND: appends "<impl> <req/s> <p99 us> <us/req>" to $RESULTS/runs.txt.
one_run() {
    local impl=$1 round=$2 pid c0 c1 out rate p99 reqs errs cpu_us
    next_free_port
    server_argv "$impl" "$PORT" $((WRK_SECS + 60))
    taskset -c "$SERVER_CPU" "${SERVER_ARGV[@]}" 2>>"$ERR" &
    pid=$!
    if ! wait_for_port "$PORT"; then
        echo "# http_hello impl=$impl round $round: server did not start on port $PORT"
        stop_server "$pid"
        PORT=$((PORT + 1))
        return
    fi
    c0=$(cpu_ticks "$pid")
    out=$(run_wrk "$WRK_SECS")
    c1=$(cpu_ticks "$pid")
    stop_server "$pid"
    PORT=$((PORT + 1))
    printf '# wrk impl=%s round=%s\n%s\n' "$impl" "$round" "$out" >>"$RAW"
    rate=$(printf '%s\n' "$out" | wrk_rate)
    p99=$(printf '%s\n' "$out" | wrk_p99_us)
    reqs=$(printf '%s\n' "$out" | wrk_requests)
    errs=$(printf '%s\n' "$out" | wrk_errors)
    if [ -n "$errs" ]; then
        echo "# http_hello impl=$impl round $round: wrk reported errors, run left out: $errs" | tee -a "$RAW"
        return
    fi
    if [ -z "$rate" ] || [ -z "$p99" ] || [ -z "$reqs" ] || [ "$reqs" = 0 ] || [ -z "$c0" ] || [ -z "$c1" ]; then
        echo "# http_hello impl=$impl round $round: no result (see $RAW and $ERR)" | tee -a "$RAW"
        return
    fi
    cpu_us=$(us_per "$c0" "$c1" "$reqs")
    echo "# http_hello impl=$impl run: $rate req/s, p99 $p99 us, $reqs requests, server cpu $((c1 - c0)) ticks, $cpu_us us/req" >>"$RAW"
    echo "$impl $rate $p99 $cpu_us" >>"$RESULTS/runs.txt"
}

# strace_pass IMPL LOAD: runs the server under `strace -c -f` for its whole life
# (STRACE_SECONDS + STRACE_MARGIN: it exits by itself), with wrk for STRACE_SECONDS when LOAD is
# "load", with nothing but the start-up port probe when it is "idle". Sets PASS_CALLS (strace's
# total) and PASS_REQUESTS (wrk's count; 0 when idle); on failure a '#' note and false.
strace_pass() {
    local impl=$1 load=$2 file spid life out errs srv
    file="$RESULTS/strace_${impl}_$load.txt"
    life=$((STRACE_SECONDS + STRACE_MARGIN))
    PASS_CALLS="" PASS_REQUESTS=0
    next_free_port
    server_argv "$impl" "$PORT" "$life"
    taskset -c "$SERVER_CPU" strace -c -f -o "$file" "${SERVER_ARGV[@]}" 2>>"$ERR" &
    spid=$!
    if ! wait_for_port "$PORT" 200; then
        echo "# http_hello_syscalls impl=$impl ($load): server did not start on port $PORT under strace" | tee -a "$RAW"
        PASS_REQUESTS=""
    elif [ "$load" = load ]; then
        out=$(run_wrk "$STRACE_SECONDS")
        printf '# wrk under strace impl=%s\n%s\n' "$impl" "$out" >>"$RAW"
        PASS_REQUESTS=$(printf '%s\n' "$out" | wrk_requests)
        errs=$(printf '%s\n' "$out" | wrk_errors)
        if [ -n "$errs" ] || [ -z "$PASS_REQUESTS" ] || [ "$PASS_REQUESTS" = 0 ]; then
            echo "# http_hello_syscalls impl=$impl: wrk failed under strace: ${errs:-no requests} (see $RAW)" | tee -a "$RAW"
            PASS_REQUESTS=""
        fi
    fi
    # The server ends at its max_seconds, then strace writes the summary and exits. Should it
    # hang, SIGTERM to the server (strace's child) ends it just as well.
    for _ in $(seq 1 $(((life + 15) * 10))); do
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$spid" 2>/dev/null; then
        echo "# http_hello_syscalls impl=$impl ($load): server still running after ${life}s, sent SIGTERM" | tee -a "$RAW"
        for srv in $(ps -o pid= --ppid "$spid"); do kill "$srv" 2>/dev/null; done
    fi
    wait "$spid" 2>/dev/null
    PORT=$((PORT + 1))
    # strace -c's last line: "100.00 <seconds> <usecs/call> <calls> [<errors>] total".
    PASS_CALLS=$(awk '$NF == "total" {print $4}' "$file" 2>/dev/null)
    if [ -z "$PASS_CALLS" ]; then
        echo "# http_hello_syscalls impl=$impl ($load): no strace summary in $file (see $ERR)" | tee -a "$RAW"
        return 1
    fi
    [ -n "$PASS_REQUESTS" ]
}

# syscall_pass IMPL: SYSCALLS[IMPL] = (calls with load - calls idle) / requests.
syscall_pass() {
    local impl=$1 loaded requests
    strace_pass "$impl" load || return
    loaded=$PASS_CALLS requests=$PASS_REQUESTS
    strace_pass "$impl" idle || return
    SYSCALLS[$impl]=$(awk -v l="$loaded" -v r="$requests" -v i="$PASS_CALLS" \
        'BEGIN {printf "%.4g", (l - i) / r}')
    echo "# http_hello_syscalls impl=$impl: $loaded calls with load ($requests requests), $PASS_CALLS idle: ${SYSCALLS[$impl]} calls/req" >>"$RAW"
}

# ------------------------------------------------------------------ main
{
    echo "# http_compare: host=$(uname -n) cpus=$(nproc) runs=$RUNS wrk=\"${WRK_BASE[*]} -d ${WRK_SECS}s --latency\" server_procs=$SERVER_PROCS strace_seconds=$STRACE_SECONDS"
    echo "# server on cpu $SERVER_CPU, wrk on cpu $CLIENT_CPU; loadavg at start: $(loadavg)"
    echo "# busiest other processes at start:"
    busiest_processes
} | tee -a "$RAW"
: >"$RESULTS/runs.txt"
for round in $(seq 1 "$RUNS"); do
    for impl in $IMPLS; do one_run "$impl" "$round"; done
done
declare -A SYSCALLS
if [ "$STRACE_SECONDS" != 0 ]; then
    for impl in $IMPLS; do syscall_pass "$impl"; done
fi
echo "# loadavg at end: $(loadavg)" | tee -a "$RAW"

declare -A RATE P99 CPU
for impl in $IMPLS; do
    RATE[$impl]=$(awk -v i="$impl" '$1 == i {print $2}' "$RESULTS/runs.txt" | median)
    P99[$impl]=$(awk -v i="$impl" '$1 == i {print $3}' "$RESULTS/runs.txt" | median)
    CPU[$impl]=$(awk -v i="$impl" '$1 == i {print $4}' "$RESULTS/runs.txt" | median)
    SYSCALLS[$impl]=${SYSCALLS[$impl]:-nan}
done
for impl in $IMPLS; do
    printf 'bench=http_hello impl=%s procs=%s value=%s unit=req/s\n' "$impl" "$SERVER_PROCS" "${RATE[$impl]}"
    printf 'bench=http_hello_p99 impl=%s procs=%s value=%s unit=us\n' "$impl" "$SERVER_PROCS" "${P99[$impl]}"
    printf 'bench=http_hello_cpu impl=%s procs=%s value=%s unit=us/req\n' "$impl" "$SERVER_PROCS" "${CPU[$impl]}"
    if [ "$STRACE_SECONDS" != 0 ]; then
        printf 'bench=http_hello_syscalls impl=%s procs=%s value=%s unit=calls/req\n' "$impl" "$SERVER_PROCS" "${SYSCALLS[$impl]}"
    fi
done | tee "$RESULTS/summary.txt"

# One table row; values that are not numbers (nan: no result) print as n/a.
TABLE_AWK='function ok(x) { return x ~ /^[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/ }
function fmt(x, f) { return ok(x) ? sprintf(f, x) : "n/a" }'
{
    echo
    echo "| impl | req/s | p99 us | CPU us/req | syscalls/req |"
    echo "|---|---|---|---|---|"
    for impl in $IMPLS; do
        awk -v i="$impl" -v r="${RATE[$impl]}" -v p="${P99[$impl]}" -v c="${CPU[$impl]}" \
            -v s="${SYSCALLS[$impl]}" "$TABLE_AWK"'
            BEGIN { printf "| %s | %s | %s | %s | %s |\n", i, fmt(r, "%.0f"), fmt(p, "%.0f"),
                fmt(c, "%.2f"), fmt(s, "%.2f") }'
    done
    if has_impl gocxx && { has_impl epoll || has_impl go; }; then
        echo
        echo "| target | gocxx | reference | gocxx vs reference | target | met |"
        echo "|---|---|---|---|---|---|"
        # row LABEL OURS THEIRS KIND LIMIT FORMAT: KIND "min_ratio" (ours/theirs >= LIMIT),
        # "max_ratio" (ours/theirs <= LIMIT) or "max_delta" (ours - theirs <= LIMIT).
        row() {
            awk -v l="$1" -v a="$2" -v b="$3" -v k="$4" -v m="$5" -v f="$6" "$TABLE_AWK"'
            BEGIN {
                if (k == "max_delta") { t = "<= +" m; have = ok(a) && ok(b) }
                else { t = (k == "min_ratio" ? ">= " : "<= ") m " x"; have = ok(a) && ok(b) && b > 0 }
                if (!have) { printf "| %s | %s | %s | n/a | %s | n/a |\n", l, fmt(a, f), fmt(b, f), t; exit }
                if (k == "max_delta") { d = a - b; v = sprintf("%+.2f", d); met = d <= m }
                else { d = a / b; v = sprintf("%.2f x", d); met = (k == "min_ratio") ? d >= m : d <= m }
                printf "| %s | %s | %s | %s | %s | %s |\n", l, fmt(a, f), fmt(b, f), v, t, met ? "yes" : "no"
            }'
        }
        if has_impl epoll; then
            row "req/s vs epoll" "${RATE[gocxx]}" "${RATE[epoll]}" min_ratio 0.9 "%.0f"
            row "CPU us/req vs epoll" "${CPU[gocxx]}" "${CPU[epoll]}" max_ratio 1.15 "%.2f"
            row "syscalls/req vs epoll" "${SYSCALLS[gocxx]}" "${SYSCALLS[epoll]}" max_delta 0.5 "%.2f"
        fi
        if has_impl go; then
            row "p99 us vs Go" "${P99[gocxx]}" "${P99[go]}" max_ratio 1 "%.0f"
        fi
    fi
} | tee -a "$RESULTS/summary.txt"
echo "# results: $RESULTS" >&2
