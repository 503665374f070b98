#!/usr/bin/env bash
# The flaky-test check: runs the failover and database-tier test files N times in a row (default 10)
# while another process keeps one core busy, and stops at the first failure. Root, as the test command.
# Usage: bash scripts/stress-tests.sh [runs]   (npm run stress -- 10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
[[ $runs =~ ^[0-9]+$ && $runs -ge 1 ]] || { echo "runs must be a positive number, e.g. 10" >&2; exit 2; }
npx tsc -p tsconfig.json
# One core busy for the whole series; stopped by its PID whatever happens.
node -e 'for (;;) {}' &
busy=$!
trap 'kill "$busy" 2>/dev/null || true' EXIT
started=$(date +%s)
for i in $(seq 1 "$runs"); do
  echo "== run $i of $runs ($(($(date +%s) - started)) s so far)"
  node --import tsx --test --test-concurrency=1 test/failover.test.ts test/dbtier.test.ts
done
echo "== $runs runs passed in $(($(date +%s) - started)) s with one core busy"
