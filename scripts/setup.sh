#!/usr/bin/env bash
# Installs what is missing, builds gocxx in Release and runs the main demo: 100,000 fibers
# (examples/hello), then examples/http_server load-tested by tools/httpbench (scripts/demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release
cmake --build build/release -j"$(nproc)"
./build/release/examples/hello
./scripts/demo.sh build/release
