#!/usr/bin/env bash
# Runs the database-tier and failover test files N times in a row (default 10) while another process
# keeps one core busy, stopping at the first failure: a guarantee that holds only on a quiet machine
# is not one. Prints one line per round and exits non-zero on the first failed round.
# Usage: bash scripts/stress-tests.sh [ROUNDS]   (after `bash scripts/install.sh --tests`)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
[[ $rounds =~ ^[0-9]+$ ]] && ((rounds > 0)) || {
  echo "usage: bash scripts/stress-tests.sh [ROUNDS]  (a positive whole number, e.g. 10)" >&2
  exit 2
}
npx tsc -p tsconfig.json
# The load: one busy core, bounded in time, stopped by its PID on any exit.
timeout $((rounds * 900)) bash -c 'while :; do :; done' &
burner=$!
trap 'kill "$burner" 2>/dev/null || true' EXIT
log=$(mktemp /tmp/hapress-stress-XXXXXX.log)
for ((round = 1; round <= rounds; round++)); do
  start=$SECONDS
  if node --import tsx --test --test-concurrency=1 test/dbtier.test.ts test/failover.test.ts >"$log" 2>&1; then
    echo "round $round/$rounds: passed in $((SECONDS - start)) s"
  else
    echo "round $round/$rounds: FAILED after $((SECONDS - start)) s; the test output is in $log" >&2
    grep -E '^\s*not ok|error:' "$log" | head -20 >&2
    exit 1
  fi
done
rm -f "$log"
echo "all $rounds rounds passed with one core busy"
