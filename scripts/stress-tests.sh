#!/usr/bin/env bash
# The flaky-test hunt: runs a set of test files N times in a row while other processes keep cores busy,
# and stops at the first failure, printing what failed (the whole run's output is kept in a log file).
# Root, as the test command.
#
# Usage: bash scripts/stress-tests.sh [--runs N] [--burners N] [--all | FILE...]   (npm run stress -- …)
#   --runs N      how many times in a row (default 10)
#   --burners N   how many cores to keep busy with a spinning process (default 1; 0 for none)
#   --all         every test file, unit and integration, in the test command's order
#   FILE...       the test files to repeat (default: test/failover.test.ts test/dbtier.test.ts)
# Exit codes: 0 every run passed, 1 a run failed, 2 bad arguments.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: bash scripts/stress-tests.sh [--runs N] [--burners N] [--all | FILE...]" >&2
  echo "  e.g. bash scripts/stress-tests.sh --runs 10 test/overload.test.ts" >&2
  exit 2
}

runs=10
burners=1
all=false
files=()
while (($# > 0)); do
  case "$1" in
    --runs)
      runs=${2:-}
      shift 2 || usage
      ;;
    --burners)
      burners=${2:-}
      shift 2 || usage
      ;;
    --all)
      all=true
      shift
      ;;
    -h | --help) usage ;;
    -*)
      echo "unknown option '$1'" >&2
      usage
      ;;
    *)
      # A bare number is the old form (`npm run stress -- 10`): the number of runs.
      if [[ $1 =~ ^[0-9]+$ && ${#files[@]} -eq 0 && ! -e $1 ]]; then runs=$1; else files+=("$1"); fi
      shift
      ;;
  esac
done
[[ $runs =~ ^[0-9]+$ && $runs -ge 1 ]] || {
  echo "--runs must be a positive whole number, e.g. --runs 10 (got '$runs')" >&2
  exit 2
}
[[ $burners =~ ^[0-9]+$ ]] || {
  echo "--burners must be a whole number, e.g. --burners 1 (got '$burners')" >&2
  exit 2
}
if $all; then
  ((${#files[@]} == 0)) || {
    echo "--all runs every test file: name files or --all, not both" >&2
    exit 2
  }
  # The test command's own list and order (scripts/test.sh).
  mapfile -t files < <(find src test -name '*.test.ts' | sort)
elif ((${#files[@]} == 0)); then
  files=(test/failover.test.ts test/dbtier.test.ts)
fi
for f in "${files[@]}"; do
  [[ -f $f && $f == *.test.ts ]] || {
    echo "'$f' is not a test file (a path like test/overload.test.ts)" >&2
    exit 2
  }
done

npx tsc -p tsconfig.json

# Busy cores for the whole series; each burner is stopped by its PID whatever happens.
burner_pids=()
stop_burners() {
  local pid
  for pid in "${burner_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap stop_burners EXIT
for _ in $(seq 1 "$burners"); do
  node -e 'for (;;) {}' &
  burner_pids+=($!)
done

logs=$(mktemp -d /tmp/hapress-stress.XXXXXX)
started=$(date +%s)
echo "== ${#files[@]} test file(s), $runs run(s), $burners busy core(s); logs in $logs"
for i in $(seq 1 "$runs"); do
  log=$logs/run-$i.log
  run_started=$(date +%s)
  if node --import tsx --test --test-concurrency=1 "${files[@]}" >"$log" 2>&1; then
    echo "== run $i of $runs passed in $(($(date +%s) - run_started)) s ($(grep -m1 '^# pass' "$log" | sed 's/^# //') tests)"
  else
    echo "== run $i of $runs FAILED after $(($(date +%s) - run_started)) s; its failures (whole output: $log):"
    # The failing tests' blocks: each 'not ok' line with its indented details, then the summary.
    awk '/^ *not ok /{show=1} show{print} /^ *\.\.\.$/{show=0}' "$log" | head -n 400
    grep '^# \(tests\|pass\|fail\|cancelled\)' "$log" || tail -n 40 "$log"
    exit 1
  fi
done
echo "== $runs runs passed in $(($(date +%s) - started)) s with $burners core(s) busy"
