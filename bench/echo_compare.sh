#!/usr/bin/env bash
# Echo benchmark: gocxx's TCP echo server (`gocxx-bench echo_server`) against Go's
# (`go_echo server`), driven by the same Go load client (bench/go_echo), on one machine.
#
# usage: bench/echo_compare.sh
#
# For each connection count in CONNS, RUNS rounds, each round running every impl once
# (interleaved: gocxx, go, gocxx, go, ... so that a change in the machine's load hits both):
# the server is started pinned to core SERVER_CPU with SERVER_PROCS Ps (GOMAXPROCS for Go),
# the client pinned to core CLIENT_CPU drives CONNS connections, each sending a 512-byte
# message and waiting for its echo, for a 0.5 s warm-up and SECONDS measured. Reported per
# (conns, impl), medians over the runs:
#   bench=echo_<conns> impl=<impl> procs=<N> value=<msgs/s> unit=msg/s
#   bench=echo_<conns>_cpu impl=<impl> procs=<N> value=<us> unit=us/msg
# The second is the server's CPU time (utime + stime of /proc/<pid>/stat, every thread) from
# just before the client starts to just after it ends, divided by every message the client
# got back in that time (warm-up included): it is steadier than msg/s on a noisy VM and shows
# the cost per message even when the one-core client is what limits msg/s. Then a table.
#
# environment:
#   CONNS="1 100"  RUNS=3  SECONDS_PER_RUN=5  SERVER_PROCS=1  SERVER_CPU=0  CLIENT_CPU=1
#   IMPLS="gocxx go"
#   PORT=19100                 first port tried on 127.0.0.1
#   GOCXX_BENCH=<path>         gocxx-bench to use; default: build it (Release) in $WORK/build
#   WORK=<dir>                 binaries and results; default build/echo_compare (git-ignored)
#   GOCACHE                    default /tmp/gocache (go build needs no network: stdlib only)
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CONNS=${CONNS:-"1 100"}
RUNS=${RUNS:-3}
SECS=${SECONDS_PER_RUN:-5}
SERVER_PROCS=${SERVER_PROCS:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
IMPLS=${IMPLS:-"gocxx go"}
PORT=${PORT:-19100}
WORK=${WORK:-"$ROOT/build/echo_compare"}
export GOCACHE=${GOCACHE:-/tmp/gocache}
RESULTS="$WORK/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$WORK" "$RESULTS"
RAW="$RESULTS/raw.txt"
ERR="$RESULTS/stderr.txt"
: >"$RAW"
COMPARE_NAME=echo_compare
# shellcheck source=bench/compare_lib.sh
. "$HERE/compare_lib.sh"
need taskset "util-linux"
need go "apt-get install golang-go"

# ------------------------------------------------------------------ build
echo "# building go_echo ($(go version | cut -d' ' -f3))" >&2
(cd "$HERE/go_echo" && CGO_ENABLED=0 go build -trimpath -o "$WORK/go_echo" .) ||
    die "go build failed"
build_gocxx_bench

# ------------------------------------------------------------------ runs
# one_run IMPL CONNS: appends "<impl> <conns> <msg/s> <us/msg>" to $RESULTS/runs.txt.
one_run() {
    local impl=$1 conns=$2 pid c0 c1 out rate msgs cpu_us
    next_free_port
    if [ "$impl" = gocxx ]; then
        taskset -c "$SERVER_CPU" "$GOCXX_BENCH" echo_server "$SERVER_PROCS" "$PORT" $((SECS + 60)) 2>>"$ERR" &
    else
        taskset -c "$SERVER_CPU" "$WORK/go_echo" server "$SERVER_PROCS" "$PORT" $((SECS + 60)) 2>>"$ERR" &
    fi
    pid=$!
    if ! wait_for_port "$PORT"; then
        echo "# echo_$conns impl=$impl: server did not start on port $PORT"
        stop_server "$pid"
        PORT=$((PORT + 1))
        return
    fi
    c0=$(cpu_ticks "$pid")
    out=$(taskset -c "$CLIENT_CPU" "$WORK/go_echo" client "127.0.0.1:$PORT" "$conns" "$SECS" \
        "$impl" "$SERVER_PROCS" 2>>"$ERR")
    c1=$(cpu_ticks "$pid")
    stop_server "$pid"
    PORT=$((PORT + 1))
    printf '%s\n' "$out" >>"$RAW"
    rate=$(printf '%s\n' "$out" | awk -F'value=' '/^bench=/ {split($2, a, " "); print a[1]}')
    msgs=$(printf '%s\n' "$out" | awk -F'total=' '/^# / && /total=/ {split($2, a, " "); print a[1]}')
    if [ -z "$rate" ] || [ -z "$msgs" ] || [ -z "$c0" ] || [ -z "$c1" ]; then
        echo "# echo_$conns impl=$impl: no result (see $ERR)"
        return
    fi
    cpu_us=$(us_per "$c0" "$c1" "$msgs")
    echo "# echo_$conns impl=$impl run: $rate msg/s, server cpu $((c1 - c0)) ticks, $cpu_us us/msg" >>"$RAW"
    echo "$impl $conns $rate $cpu_us" >>"$RESULTS/runs.txt"
}

# ------------------------------------------------------------------ main
{
    echo "# echo_compare: host=$(uname -n) cpus=$(nproc) runs=$RUNS seconds=$SECS server_procs=$SERVER_PROCS"
    echo "# server on cpu $SERVER_CPU, client on cpu $CLIENT_CPU; loadavg at start: $(loadavg)"
    echo "# busiest other processes at start:"
    busiest_processes
} | tee -a "$RAW"
: >"$RESULTS/runs.txt"
for conns in $CONNS; do
    for _ in $(seq 1 "$RUNS"); do
        for impl in $IMPLS; do one_run "$impl" "$conns"; done
    done
done
echo "# loadavg at end: $(loadavg)" | tee -a "$RAW"

declare -A RATE CPU
for conns in $CONNS; do
    for impl in $IMPLS; do
        RATE[$impl/$conns]=$(awk -v i="$impl" -v c="$conns" '$1 == i && $2 == c {print $3}' "$RESULTS/runs.txt" | median)
        CPU[$impl/$conns]=$(awk -v i="$impl" -v c="$conns" '$1 == i && $2 == c {print $4}' "$RESULTS/runs.txt" | median)
    done
done
for conns in $CONNS; do
    for impl in $IMPLS; do
        printf 'bench=echo_%s impl=%s procs=%s value=%s unit=msg/s\n' "$conns" "$impl" "$SERVER_PROCS" "${RATE[$impl/$conns]}"
        printf 'bench=echo_%s_cpu impl=%s procs=%s value=%s unit=us/msg\n' "$conns" "$impl" "$SERVER_PROCS" "${CPU[$impl/$conns]}"
    done
done | tee "$RESULTS/summary.txt"

if [[ " $IMPLS " == *" gocxx "* && " $IMPLS " == *" go "* ]]; then
    echo
    echo "| conns | gocxx msg/s | Go msg/s | gocxx/Go | gocxx server CPU us/msg | Go server CPU us/msg | gocxx/Go |"
    echo "|---|---|---|---|---|---|---|"
    for conns in $CONNS; do
        awk -v c="$conns" -v r1="${RATE[gocxx/$conns]}" -v r2="${RATE[go/$conns]}" \
            -v u1="${CPU[gocxx/$conns]}" -v u2="${CPU[go/$conns]}" 'BEGIN {
            printf "| %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f |\n", c, r1, r2, r2 ? r1 / r2 : 0,
                u1, u2, u2 ? u1 / u2 : 0 }'
    done
fi | tee -a "$RESULTS/summary.txt"
echo "# results: $RESULTS" >&2
