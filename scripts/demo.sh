#!/usr/bin/env bash
# The README demo: starts examples/http_server on 127.0.0.1 (a free port, 1 P), runs httpbench
# against it for a few seconds (its live progress, then its report), and stops the server.
#   scripts/demo.sh [BUILD_DIR]     default build/release (scripts/setup.sh builds it)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
server_bin=$build/examples/http_server
bench_bin=$build/tools/httpbench
for b in "$server_bin" "$bench_bin"; do
  [ -x "$b" ] || { echo "demo: $b not built (run scripts/setup.sh)" >&2; exit 1; }
done

log=$(mktemp)
"$server_bin" --addr 127.0.0.1:0 --procs 1 >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$log"' EXIT
url=
for _ in $(seq 1 100); do  # the server prints "listening on http://ADDR/" once it listens
  url=$(grep -o 'http://[^ ]*' "$log" | head -n 1 || true)
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$url" ]; then
  echo "demo: http_server did not start:" >&2
  cat "$log" >&2
  exit 1
fi
echo "demo: examples/http_server is serving $url (1 P); httpbench, 50 connections, 5 s:"
echo "\$ httpbench -c 50 -d 5s -t 1 $url"
"$bench_bin" -c 50 -d 5s -t 1 "$url"
