#!/usr/bin/env bash
# Builds and runs the whole test suite: the plain build, then ASan+UBSan, then TSan.
#   scripts/test.sh              all three
#   scripts/test.sh plain asan   a subset (plain | asan | tsan)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(plain asan tsan)
jobs=$(nproc)
for v in "${variants[@]}"; do
  case $v in
    plain) sanitize="" ;;
    asan) sanitize=address ;;
    tsan) sanitize=thread ;;
    *) echo "scripts/test.sh: unknown variant '$v' (plain, asan or tsan)" >&2; exit 2 ;;
  esac
  dir=build/test-$v
  echo "=== gocxx tests: $v build ($dir)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOCXX_WERROR=ON \
        -DGOCXX_SANITIZE="$sanitize" -DGOCXX_BUILD_BENCH=$([ "$v" = plain ] && echo ON || echo OFF) >/dev/null
  cmake --build "$dir" -j"$jobs"
  # halt_on_error: a sanitizer report fails the run instead of scrolling by.
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir "$dir" --output-on-failure -j"$jobs"
done
echo "=== gocxx tests: all passed (${variants[*]})"
