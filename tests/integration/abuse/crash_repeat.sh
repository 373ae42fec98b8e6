#!/bin/sh
# Runs the crash-consistency test (storage_crash.py) N times with a fresh
# random seed each, stops at the first failure and prints its seed (run it
# again with CAIRN_CRASH_SEED=<seed>). Usage, from the repository root after
# `ninja -C build`:
#   tests/integration/abuse/crash_repeat.sh 100 [build]
# Each run is the three registry sizes (0, 10k, 100k), ~20 s.
set -u
runs=${1:-10}
build=${2:-build}
root=$(cd "$(dirname "$0")/../../.." && pwd)
export CAIRN_BIN="$root/$build/cairn" PYTHONPATH="$root/tests/integration" CAIRN_SOURCE_ROOT="$root"
log=$(mktemp /tmp/cairn-crash-repeat-XXXXXX.log)
i=1
while [ "$i" -le "$runs" ]; do
  seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
  if ! CAIRN_CRASH_SEED=$seed /usr/bin/python3 "$root/tests/integration/abuse/storage_crash.py" >>"$log" 2>&1; then
    echo "run $i of $runs FAILED with CAIRN_CRASH_SEED=$seed (log: $log)"
    exit 1
  fi
  echo "run $i of $runs ok (seed $seed)"
  i=$((i + 1))
done
echo "$runs runs, no acknowledged write lost and none invented (log: $log)"
