#!/usr/bin/env bash
# The test command: type-check, lint, format check, build, then every test with Node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.test.json
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --list-different .; echo "format check failed: run 'npm run format'" >&2; exit 1; }
npx tsc -p tsconfig.json
mapfile -t files < <(find src test -name '*.test.ts' | sort)
# One file at a time: the integration tests start real servers and the machine has two cores.
exec node --import tsx --test --test-concurrency=1 "${files[@]}"
