#!/usr/bin/env bash
# Quick start, step 1: install portunix-db and bring up a working PostgreSQL 16 from the
# rootless portable binaries (no root, no Docker), then print its connection URL.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/progress.sh
. scripts/progress.sh

# better-sqlite3 is a native addon: build it against the running node's own headers when they
# are installed beside it, so node-gyp needs no download from nodejs.org
node_prefix="$(dirname "$(dirname "$(command -v node)")")"
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi

echo "==> installing dependencies (npm ci): this compiles better-sqlite3, the native SQLite addon, which takes 1-3 minutes" >&2
with_progress "npm ci" npm ci --no-audit --no-fund
echo "==> building" >&2
with_progress "build" npm run --silent build

CLI=(node "$PWD/dist/bundle/portunix-db.mjs")
if npm link >/dev/null 2>&1 && command -v portunix-db >/dev/null 2>&1; then
  CLI=(portunix-db)
  echo "==> portunix-db is on your PATH" >&2
else
  CLI=(node "$PWD/dist/bundle/portunix-db.mjs")
  echo "==> could not 'npm link' (no write access to npm's global prefix); the command is: node $PWD/dist/bundle/portunix-db.mjs" >&2
  echo "    (or put it on PATH yourself: ln -s $PWD/launchers/portunix-db ~/.local/bin/portunix-db)" >&2
fi

"${CLI[@]}" install postgresql --version 16 --source portable
"${CLI[@]}" status postgresql
echo
echo "Connection URL (password masked; add --show-password to see it):"
"${CLI[@]}" url postgresql
