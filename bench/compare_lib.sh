# shellcheck shell=bash
# Shell helpers shared by bench/echo_compare.sh, http_compare.sh and loadgen_compare.sh. Sourced, not run:
#   . "$HERE/compare_lib.sh"
# The sourcing script sets these first:
#   COMPARE_NAME   prefix of its error messages (echo_compare, http_compare, loadgen_compare)
#   ROOT           the repository root
#   WORK           its binaries and results (build_gocxx_bench builds in $WORK/build)
#   ERR            file that collects the build log and the programs' stderr
#   PORT           first port to try on 127.0.0.1 (next_free_port moves it on)

TICK=$(getconf CLK_TCK) # /proc/<pid>/stat counts CPU time in these ticks

die() { echo "$COMPARE_NAME: $*" >&2; exit 1; }

# need COMMAND HINT: dies unless COMMAND is on PATH; HINT says where it comes from.
need() { command -v "$1" >/dev/null || die "$1 not found ($2)"; }

# Builds gocxx-bench (Release) in $WORK/build unless GOCXX_BENCH names one; sets GOCXX_BENCH.
build_gocxx_bench() {
    if [ -z "${GOCXX_BENCH:-}" ]; then
        echo "# building gocxx-bench (Release) in $WORK/build" >&2
        if ! cmake -S "$ROOT" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release >>"$ERR" 2>&1 ||
            ! cmake --build "$WORK/build" -j"$(nproc)" --target gocxx-bench >>"$ERR" 2>&1; then
            die "gocxx-bench build failed (see $ERR)"
        fi
        GOCXX_BENCH="$WORK/build/bench/gocxx-bench"
    fi
    [ -x "$GOCXX_BENCH" ] || die "no gocxx-bench at $GOCXX_BENCH"
}

# port_busy PORT: true when something accepts connections on 127.0.0.1:PORT. The probe is a
# real connection (opened and closed at once) that the server under test sees too.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Moves PORT on to the first port nobody listens on.
next_free_port() { while port_busy "$PORT"; do PORT=$((PORT + 1)); done; }

# wait_for_port PORT [TRIES]: true once a server listens on PORT; polls every 50 ms, TRIES
# times (default 100: 5 s).
wait_for_port() {
    local _
    for _ in $(seq 1 "${2:-100}"); do
        if port_busy "$1"; then return 0; fi
        sleep 0.05
    done
    return 1
}

# stop_server PID: SIGTERM (every server here dies of it: none handles it) and reap it.
stop_server() {
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# CPU ticks (utime + stime, all threads) of a process: the fields after "pid (comm) ".
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }

# us_per TICKS_BEFORE TICKS_AFTER COUNT: the CPU time between the two readings, in
# microseconds per item of COUNT.
us_per() {
    awk -v a="$1" -v b="$2" -v t="$TICK" -v m="$3" 'BEGIN {printf "%.4g", (b - a) / t * 1e6 / m}'
}

# Median of the numbers on stdin, one per line; "nan" when there are none.
median() { sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# The five processes using the most CPU (ps's lifetime average), as '#' remark lines.
busiest_processes() { ps -eo pcpu=,comm= --sort=-pcpu | head -5 | sed 's/^/#   /'; }

# build_release TARGET...: configures $WORK/build (Release) and builds the TARGETs there; dies,
# pointing at $ERR, when either step fails. The caller names the binaries it needs.
build_release() {
    echo "# building $* (Release) in $WORK/build" >&2
    if ! cmake -S "$ROOT" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release >>"$ERR" 2>&1 ||
        ! cmake --build "$WORK/build" -j"$(nproc)" --target "$@" >>"$ERR" 2>&1; then
        die "build of $* failed (see $ERR)"
    fi
}

# stop_server_within PID SECONDS: SIGTERM, for a server that shuts down cleanly on it; SIGKILL
# if it is still there after SECONDS; then reaps it. True when it ended on the SIGTERM.
stop_server_within() {
    local _
    kill "$1" 2>/dev/null
    for _ in $(seq 1 $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$1" 2>/dev/null; then
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        return 1
    fi
    wait "$1" 2>/dev/null
    return 0
}

# run_cpu_timed CPU_FILE COMMAND...: runs COMMAND in a subshell (standard streams as the
# caller's) and writes the CPU seconds (user + system) that it used into CPU_FILE; returns
# COMMAND's status. The figure is getrusage(RUSAGE_CHILDREN) of that subshell as `times` reports
# it (millisecond resolution): exact, every thread, and every process that COMMAND ran and waited
# for (a `timeout` or `taskset` in front adds next to nothing). A fresh subshell starts at zero,
# and `times` must run in it, not in a pipeline or $(...): those would be fresh processes again.
run_cpu_timed() {
    local cpu_file=$1
    shift
    (
        "$@"
        status=$?
        times >"$cpu_file.times"
        # Line 2 is the children's "<m>m<s.sss>s <m>m<s.sss>s" (user, system); the decimal
        # point follows the locale.
        awk 'function secs(f, a) { sub(/s$/, "", f); sub(/,/, ".", f); split(f, a, "m"); return a[1] * 60 + a[2] }
            NR == 2 { printf "%.6f\n", secs($1) + secs($2) }' "$cpu_file.times" >"$cpu_file"
        rm -f "$cpu_file.times"
        exit "$status"
    )
}
