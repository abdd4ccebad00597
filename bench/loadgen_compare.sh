#!/usr/bin/env bash
# Load generator benchmark: our `httpbench` (tools/httpbench) next to wrk, hey and bombardier,
# all loading the same local server (examples/http_server) on 127.0.0.1, in one session.
#
# usage: bench/loadgen_compare.sh
#
# For each connection count in CONNS, RUNS rounds, each round running every tool once
# (interleaved: wrk, hey, bombardier, httpbench, wrk, ... so that a change in the machine's load
# hits all of them): a fresh `http_server --procs 1` pinned to core SERVER_CPU, and the tool,
# pinned to core CLIENT_CPU with one thread (wrk -t1, hey -cpus 1, GOMAXPROCS=1 for bombardier,
# httpbench -t 1), driving that many keep-alive connections at GET / for SECONDS_PER_RUN:
#   wrk -t1 -c C -d Ss --latency URL
#   hey -c C -z Ss -cpus 1 URL
#   bombardier -c C -d Ss -l -p r -o json URL
#   httpbench -c C -d Ss -t 1 --quiet --json - URL
# Reported per (conns, tool), medians over the runs:
#   bench=loadgen_rps impl=<tool> conns=<C> value=<req/s> unit=req/s
#   bench=loadgen_cpu impl=<tool> conns=<C> value=<us> unit=us/req
#   bench=loadgen_p50 impl=<tool> conns=<C> value=<us> unit=us
#   bench=loadgen_p99 impl=<tool> conns=<C> value=<us> unit=us
# req/s, p50 and p99 are each tool's own figures (bombardier's req/s is its completed requests
# over its time taken, the definition the others use, not the mean of its per-second samples).
# cpu is the client's CPU time (user + system, every thread, from start-up to exit: the kernel's
# rusage of the reaped process, see run_cpu_timed in compare_lib.sh) divided by the requests the
# tool reports completing: steadier than req/s on a noisy VM, and what a load generator costs.
# Precision of the percentiles: wrk and bombardier report whole microseconds, httpbench its
# histogram's buckets, hey only 0.1 ms steps (seconds with 4 decimals), so hey's are coarse on a
# server that answers in tens of microseconds. A run in which the tool reports errors or
# non-2xx responses is noted and left out.
#
# Then a table of the medians, and the issue's targets: httpbench's CPU per request <= 2.0 x
# wrk's and <= 0.5 x hey's; its p50 and p99 within 10% of wrk's at the same connections (the
# loads are equal only as far as their req/s are: a note under the table gives both).
#
# bombardier means codesenberg's Go HTTP benchmarking tool. Debian's package of that name is a
# curses game (/usr/games/bombardier), so a `bombardier` is used only when its binary names the
# Go module; otherwise, with the default TOOLS, it is left out with a note.
#
# environment:
#   CONNS="50"  RUNS=3  SECONDS_PER_RUN=5  SERVER_CPU=0  CLIENT_CPU=1
#   TOOLS="wrk hey bombardier httpbench"  the tools, in round order; with the default, a tool not
#                              found is left out with a note; named here, it must be found
#   PORT=19300                 first port tried on 127.0.0.1
#   URL_PATH=/                 what is requested; "/sleep?ms=1" makes every response take 1 ms,
#                              so that neither the server nor the client is saturated and every
#                              tool puts the same load on it (conns / 1 ms): then the tools'
#                              percentiles are comparable
#   HTTP_SERVER=<path>         http_server to use; default: build it (Release) in $WORK/build
#   HTTPBENCH=<path>           httpbench to use; default: build it (Release) in $WORK/build
#   WRK, HEY, BOMBARDIER=<path>  the other tools; default: found on PATH
#   WORK=<dir>                 binaries and results; default build/loadgen_compare (git-ignored)
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CONNS=${CONNS:-"50"}
RUNS=${RUNS:-3}
SECS=${SECONDS_PER_RUN:-5}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TOOLS_GIVEN=${TOOLS:+yes}
TOOLS=${TOOLS:-"wrk hey bombardier httpbench"}
PORT=${PORT:-19300}
URL_PATH=${URL_PATH:-/}
WORK=${WORK:-"$ROOT/build/loadgen_compare"}
RESULTS="$WORK/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$WORK" "$RESULTS/runs"
RAW="$RESULTS/raw.txt"
ERR="$RESULTS/stderr.txt"
: >"$RAW"
COMPARE_NAME=loadgen_compare
# shellcheck source=bench/compare_lib.sh
. "$HERE/compare_lib.sh"

# ------------------------------------------------------------------ checks
is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }
for v in RUNS SECS SERVER_CPU CLIENT_CPU PORT; do
    name=$v
    [ "$v" = SECS ] && name=SECONDS_PER_RUN
    is_uint "${!v}" || die "$name must be a whole number, not \"${!v}\""
done
[ "$RUNS" -ge 1 ] || die "RUNS must be at least 1"
[ "$SECS" -ge 1 ] || die "SECONDS_PER_RUN must be at least 1"
if [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then die "PORT must be in 1..65535, not $PORT"; fi
[ -n "${CONNS// /}" ] || die "CONNS is empty"
for conns in $CONNS; do
    if ! is_uint "$conns" || [ "$conns" -lt 1 ]; then
        die "CONNS must be whole numbers of at least 1, not \"$conns\""
    fi
done
[ -n "${TOOLS// /}" ] || die "TOOLS is empty"
for tool in $TOOLS; do
    case $tool in wrk | hey | bombardier | httpbench) ;;
    *) die "unknown tool \"$tool\" in TOOLS (wrk, hey, bombardier, httpbench)" ;;
    esac
done

need taskset "util-linux"
need timeout "coreutils"
taskset -c "$SERVER_CPU" true 2>/dev/null || die "SERVER_CPU=$SERVER_CPU: no such core to pin to"
taskset -c "$CLIENT_CPU" true 2>/dev/null || die "CLIENT_CPU=$CLIENT_CPU: no such core to pin to"
case " $TOOLS " in *" bombardier "* | *" httpbench "*) need python3 "apt-get install python3: reads the JSON reports" ;; esac

# is_http_bombardier PATH: true for codesenberg's bombardier, whose Go build information names
# its module. Checked without running it: Debian's `bombardier` is a curses game.
is_http_bombardier() { grep -qa 'github.com/codesenberg/bombardier' "$1" 2>/dev/null; }

# find_tool TOOL VAR HINT: sets VAR to TOOL's binary ($VAR if set, else TOOL on PATH). When there
# is none: dies if TOOLS was given, else drops TOOL from TOOLS with a note (DROPPED).
DROPPED=""
find_tool() {
    local tool=$1 var=$2 hint=$3 path
    path=${!var:-$(command -v "$tool" 2>/dev/null)}
    local why=""
    if [ -z "$path" ]; then
        why="not found ($hint)"
    elif [ ! -x "$path" ]; then
        why="$path is not an executable"
    elif [ "$tool" = bombardier ] && ! is_http_bombardier "$path"; then
        why="$path is not codesenberg's HTTP bombardier (Debian's package of that name is a game; set BOMBARDIER=<path> to the Go tool)"
    fi
    if [ -n "$why" ]; then
        [ -z "$TOOLS_GIVEN" ] || die "$tool: $why"
        DROPPED+="# $tool left out: $why"$'\n'
        TOOLS=$(echo " $TOOLS " | sed "s/ $tool / /; s/^ *//; s/ *$//")
        return
    fi
    printf -v "$var" '%s' "$path"
}
has_tool() { case " $TOOLS " in *" $1 "*) return 0 ;; esac; return 1; }

if has_tool wrk; then find_tool wrk WRK "apt-get install wrk"; fi
if has_tool hey; then find_tool hey HEY "apt-get install hey"; fi
if has_tool bombardier; then
    find_tool bombardier BOMBARDIER "go install github.com/codesenberg/bombardier@latest, or BOMBARDIER=<path>"
fi
[ -n "${TOOLS// /}" ] || die "none of the tools was found"

# ------------------------------------------------------------------ build
targets=()
[ -n "${HTTP_SERVER:-}" ] || targets+=(http_server)
if has_tool httpbench && [ -z "${HTTPBENCH:-}" ]; then targets+=(httpbench); fi
if [ ${#targets[@]} -gt 0 ]; then build_release "${targets[@]}"; fi
HTTP_SERVER=${HTTP_SERVER:-"$WORK/build/examples/http_server"}
[ -x "$HTTP_SERVER" ] || die "no http_server at $HTTP_SERVER"
if has_tool httpbench; then
    HTTPBENCH=${HTTPBENCH:-"$WORK/build/tools/httpbench"}
    [ -x "$HTTPBENCH" ] || die "no httpbench at $HTTPBENCH"
fi

# ------------------------------------------------------------------ tools
# tool_argv TOOL CONNS URL: the tool's command line in TOOL_ARGV.
tool_argv() {
    local c=$2 url=$3
    case $1 in
    wrk) TOOL_ARGV=("$WRK" -t1 -c"$c" -d"${SECS}s" --latency "$url") ;;
    hey) TOOL_ARGV=("$HEY" -c "$c" -z "${SECS}s" -cpus 1 "$url") ;;
    bombardier) TOOL_ARGV=(env GOMAXPROCS=1 "$BOMBARDIER" -c "$c" -d "${SECS}s" -l -p r -o json "$url") ;;
    httpbench) TOOL_ARGV=("$HTTPBENCH" -c "$c" -d "${SECS}s" -t 1 --quiet --json - "$url") ;;
    esac
}

# Readers of a tool's output (the file OUT): each sets R_RATE (req/s), R_REQS (requests
# completed), R_P50 and R_P99 (us), and R_ERRS (what went wrong; empty when nothing did). A
# figure the output lacks stays empty.

# A wrk latency (59.00us, 1.17ms, 1.02s, 1.50m) in microseconds.
WRK_US_AWK='function us(v, u) { u = v; sub(/^[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
    return v * (u == "us" ? 1 : u == "ms" ? 1e3 : u == "s" ? 1e6 : u == "m" ? 6e7 : u == "h" ? 3.6e9 : 0) }'
read_wrk() {
    R_RATE=$(awk '$1 == "Requests/sec:" {print $2}' "$1")
    R_REQS=$(awk '/ requests in / {print $1}' "$1")
    R_P50=$(awk "$WRK_US_AWK"' $1 == "50%" {printf "%.6g", us($2)}' "$1")
    R_P99=$(awk "$WRK_US_AWK"' $1 == "99%" {printf "%.6g", us($2)}' "$1")
    R_ERRS=$(grep -e 'Socket errors' -e 'Non-2xx' "$1" | sed 's/^ *//' | tr '\n' ' ')
}

# hey: "Requests/sec:\t41326.4562", "  50% in 0.0002 secs", and the counts under "Status code
# distribution:" ("  [200]\t41355 responses") and "Error distribution:" ("  [12]\tmessage").
read_hey() {
    R_RATE=$(awk '$1 == "Requests/sec:" {print $2}' "$1")
    R_REQS=$(awk '/^ *\[[0-9]+\][ \t]+[0-9]+ responses$/ {n += $2; seen = 1} END {if (seen) print n}' "$1")
    R_P50=$(awk '$1 == "50%" && $2 == "in" {printf "%.6g", $3 * 1e6}' "$1")
    R_P99=$(awk '$1 == "99%" && $2 == "in" {printf "%.6g", $3 * 1e6}' "$1")
    R_ERRS=$(awk '/^ *\[[0-9]+\][ \t]+[0-9]+ responses$/ && $1 !~ /^\[2/ {printf "status %s: %s responses; ", $1, $2}
        /^Error distribution:/ {errors = 1; next}
        errors && /^ *\[[0-9]+\]/ {n = $1; gsub(/[][]/, "", n); e += n}
        END {if (e) printf "%d errors", e}' "$1")
}

# bombardier -o json: result.{req1xx..req5xx, others, errors[].count, timeTakenSeconds,
# latency.percentiles."50"/"99" (us)}.
read_bombardier() {
    local fails=""
    R_RATE="" R_REQS="" R_P50="" R_P99=""
    read -r R_RATE R_REQS R_P50 R_P99 fails < <(python3 -c '
import json, sys
r = json.load(sys.stdin)["result"]
codes = [r[k] for k in ("req1xx", "req2xx", "req3xx", "req4xx", "req5xx", "others")]
done = sum(codes)
p = r.get("latency", {}).get("percentiles", {})
rate = done / r["timeTakenSeconds"] if r["timeTakenSeconds"] > 0 else "nan"
fails = done - r["req2xx"] + sum(e["count"] for e in r.get("errors", []))
print(rate, done, p.get("50", "nan"), p.get("99", "nan"), fails)' <"$1" 2>>"$ERR")
    R_ERRS=""
    if [ -n "$fails" ] && [ "$fails" != 0 ]; then R_ERRS="$fails requests failed or not 2xx"; fi
}

# httpbench --json -: requests, rps, errors (transport errors and non-2xx), latency_us.p50/p99.
read_httpbench() {
    local fails=""
    R_RATE="" R_REQS="" R_P50="" R_P99=""
    read -r R_RATE R_REQS R_P50 R_P99 fails < <(python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r["rps"], r["requests"], r["latency_us"]["p50"], r["latency_us"]["p99"], r["errors"])' \
        <"$1" 2>>"$ERR")
    R_ERRS=""
    if [ -n "$fails" ] && [ "$fails" != 0 ]; then R_ERRS="$fails requests failed or not 2xx"; fi
}

is_number() { [[ $1 =~ ^[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$ ]]; }

# ------------------------------------------------------------------ runs
SERVER_PID=""
trap '[ -z "$SERVER_PID" ] || stop_server_within "$SERVER_PID" 5' EXIT

# one_run TOOL CONNS ROUND: appends "<tool> <conns> <req/s> <cpu us/req> <p50> <p99>" to
# $RESULTS/runs.txt.
one_run() {
    local tool=$1 conns=$2 round=$3 run out cpu_file status cpu cpu_us
    local what="loadgen impl=$tool conns=$conns round $round"
    run="$RESULTS/runs/${tool}_c${conns}_r$round"
    out="$run.out" cpu_file="$run.cpu"
    next_free_port
    taskset -c "$SERVER_CPU" "$HTTP_SERVER" --addr "127.0.0.1:$PORT" --procs 1 >>"$ERR" 2>&1 &
    SERVER_PID=$!
    # Alive as well as listening: if another program took the port first, ours has exited.
    if ! wait_for_port "$PORT" || ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "# $what: server did not start on port $PORT (see $ERR)" | tee -a "$RAW"
        stop_server_within "$SERVER_PID" 5
        SERVER_PID=""
        PORT=$((PORT + 1))
        return
    fi
    tool_argv "$tool" "$conns" "http://127.0.0.1:$PORT$URL_PATH"
    run_cpu_timed "$cpu_file" timeout -k 5 $((SECS + 30)) taskset -c "$CLIENT_CPU" \
        "${TOOL_ARGV[@]}" >"$out" 2>"$run.err"
    status=$?
    if ! stop_server_within "$SERVER_PID" 5; then
        echo "# $what: server ignored SIGTERM for 5 s, killed" | tee -a "$RAW"
    fi
    SERVER_PID=""
    PORT=$((PORT + 1))
    "read_$tool" "$out"
    cpu=$(cat "$cpu_file" 2>/dev/null)
    if [ "$status" = 124 ] || [ "$status" = 137 ]; then
        echo "# $what: $tool did not finish within $((SECS + 30)) s, run left out (see $out)" | tee -a "$RAW"
        return
    fi
    if [ -n "$R_ERRS" ]; then
        echo "# $what: $tool reported errors, run left out: $R_ERRS" | tee -a "$RAW"
        return
    fi
    if ! is_number "$R_RATE" || ! is_number "$R_REQS" || ! is_number "$R_P50" ||
        ! is_number "$R_P99" || ! is_number "$cpu" || [ "$R_REQS" = 0 ]; then
        echo "# $what: no result (exit status $status; see $out, $run.err and $ERR)" | tee -a "$RAW"
        return
    fi
    cpu_us=$(awk -v s="$cpu" -v n="$R_REQS" 'BEGIN {printf "%.4g", s * 1e6 / n}')
    echo "# $what: $R_RATE req/s, $R_REQS requests, p50 $R_P50 us, p99 $R_P99 us, client cpu $cpu s, $cpu_us us/req" >>"$RAW"
    echo "$tool $conns $R_RATE $cpu_us $R_P50 $R_P99" >>"$RESULTS/runs.txt"
}

# ------------------------------------------------------------------ main
{
    echo "# loadgen_compare: host=$(uname -n) cpus=$(nproc) runs=$RUNS seconds=$SECS conns=\"$CONNS\" tools=\"$TOOLS\""
    echo "# server: $HTTP_SERVER --procs 1 on cpu $SERVER_CPU; tools on cpu $CLIENT_CPU; loadavg at start: $(loadavg)"
    for tool in $TOOLS; do
        case $tool in
        wrk) echo "#   wrk: $WRK" ;;
        hey) echo "#   hey: $HEY" ;;
        bombardier) echo "#   bombardier: $BOMBARDIER" ;;
        httpbench) echo "#   httpbench: $HTTPBENCH" ;;
        esac
    done
    printf '%s' "$DROPPED"
    echo "# busiest other processes at start:"
    busiest_processes
} | tee -a "$RAW"
: >"$RESULTS/runs.txt"
for conns in $CONNS; do
    for round in $(seq 1 "$RUNS"); do
        for tool in $TOOLS; do one_run "$tool" "$conns" "$round"; done
    done
done
echo "# loadavg at end: $(loadavg)" | tee -a "$RAW"

declare -A RATE CPU P50 P99
# column N of the runs of TOOL at CONNS, median.
median_of() { awk -v t="$1" -v c="$2" -v n="$3" '$1 == t && $2 == c {print $n}' "$RESULTS/runs.txt" | median; }
for conns in $CONNS; do
    for tool in $TOOLS; do
        RATE[$tool/$conns]=$(median_of "$tool" "$conns" 3)
        CPU[$tool/$conns]=$(median_of "$tool" "$conns" 4)
        P50[$tool/$conns]=$(median_of "$tool" "$conns" 5)
        P99[$tool/$conns]=$(median_of "$tool" "$conns" 6)
    done
done
for conns in $CONNS; do
    for tool in $TOOLS; do
        printf 'bench=loadgen_rps impl=%s conns=%s value=%s unit=req/s\n' "$tool" "$conns" "${RATE[$tool/$conns]}"
        printf 'bench=loadgen_cpu impl=%s conns=%s value=%s unit=us/req\n' "$tool" "$conns" "${CPU[$tool/$conns]}"
        printf 'bench=loadgen_p50 impl=%s conns=%s value=%s unit=us\n' "$tool" "$conns" "${P50[$tool/$conns]}"
        printf 'bench=loadgen_p99 impl=%s conns=%s value=%s unit=us\n' "$tool" "$conns" "${P99[$tool/$conns]}"
    done
done | tee "$RESULTS/summary.txt"

# One table cell or row; values that are not numbers (nan: no result) print as n/a.
TABLE_AWK='function ok(x) { return x ~ /^[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/ }
function fmt(x, f) { return ok(x) ? sprintf(f, x) : "n/a" }'
# target_row CONNS LABEL OURS THEIRS KIND LIMIT FORMAT: KIND "max_ratio" (ours/theirs <= LIMIT)
# or "within" (ours/theirs within 1 +- LIMIT).
target_row() {
    awk -v c="$1" -v l="$2" -v a="$3" -v b="$4" -v k="$5" -v m="$6" -v f="$7" "$TABLE_AWK"'
    BEGIN {
        t = k == "within" ? sprintf("within %g%%", m * 100) : "<= " m " x"
        if (!(ok(a) && ok(b) && b > 0)) {
            printf "| %s | %s | %s | %s | n/a | %s | n/a |\n", c, l, fmt(a, f), fmt(b, f), t; exit
        }
        d = a / b
        met = k == "within" ? (d >= 1 - m && d <= 1 + m) : d <= m
        printf "| %s | %s | %s | %s | %.2f x | %s | %s |\n", c, l, fmt(a, f), fmt(b, f), d, t, met ? "yes" : "no"
    }'
}
{
    echo
    echo "| conns | tool | req/s | client CPU us/req | p50 us | p99 us |"
    echo "|---|---|---|---|---|---|"
    for conns in $CONNS; do
        for tool in $TOOLS; do
            awk -v c="$conns" -v t="$tool" -v r="${RATE[$tool/$conns]}" -v u="${CPU[$tool/$conns]}" \
                -v p="${P50[$tool/$conns]}" -v q="${P99[$tool/$conns]}" "$TABLE_AWK"'
                BEGIN { printf "| %s | %s | %s | %s | %s | %s |\n", c, t, fmt(r, "%.0f"),
                    fmt(u, "%.2f"), fmt(p, "%.0f"), fmt(q, "%.0f") }'
        done
    done
    if has_tool httpbench && { has_tool wrk || has_tool hey; }; then
        echo
        echo "| conns | target | httpbench | reference | httpbench vs reference | target | met |"
        echo "|---|---|---|---|---|---|---|"
        for conns in $CONNS; do
            h=httpbench/$conns w=wrk/$conns
            if has_tool wrk; then
                target_row "$conns" "client CPU us/req vs wrk" "${CPU[$h]}" "${CPU[$w]}" max_ratio 2.0 "%.2f"
            fi
            if has_tool hey; then
                target_row "$conns" "client CPU us/req vs hey" "${CPU[$h]}" "${CPU[hey/$conns]}" max_ratio 0.5 "%.2f"
            fi
            if has_tool wrk; then
                target_row "$conns" "p50 us vs wrk" "${P50[$h]}" "${P50[$w]}" within 0.1 "%.0f"
                target_row "$conns" "p99 us vs wrk" "${P99[$h]}" "${P99[$w]}" within 0.1 "%.0f"
            fi
        done
        if has_tool wrk; then
            echo
            for conns in $CONNS; do
                awk -v c="$conns" -v a="${RATE[httpbench/$conns]}" -v b="${RATE[wrk/$conns]}" "$TABLE_AWK"'
                    BEGIN { printf "# load behind the percentiles at %s conns: httpbench %s req/s, wrk %s req/s\n",
                        c, fmt(a, "%.0f"), fmt(b, "%.0f") }'
            done
        fi
    fi
} | tee -a "$RESULTS/summary.txt"
echo "# results: $RESULTS" >&2
