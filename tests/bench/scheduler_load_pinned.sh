#!/usr/bin/env bash
# The scheduler load benchmark with the coordinator on cores 0-1 and the simulated workers on
# the other cores, for each coordinator binary given, back to back (docs/bench/scheduler-load.md).
# Usage: tests/bench/scheduler_load_pinned.sh BENCH_BIN COORDINATOR_BIN... (reports in $OUT or .)
set -euo pipefail
bench=$(realpath "$1")
shift
out="${OUT:-$PWD}"
last_core=$(($(nproc) - 1))
[ "$last_core" -ge 3 ] || { echo "needs at least 4 cores"; exit 1; }
n=0
for coordinator in "$@"; do
  n=$((n + 1))
  wrapper=$(mktemp /tmp/pinned-coordinator-XXXXXX.sh)
  printf '#!/bin/bash\nexec taskset -c 0,1 %s "$@"\n' "$(realpath "$coordinator")" > "$wrapper"
  chmod +x "$wrapper"
  taskset -c "2-$last_core" "$bench" --coordinator-bin "$wrapper" --workers 1000 \
    --trainings 10000 --task-seconds 1 --report-seconds 0.5 --report "$out/pinned-$n.md"
  rm -f "$wrapper"
done
