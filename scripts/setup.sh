#!/usr/bin/env bash
# Quick start, step 1: install portunix-db and bring up a working PostgreSQL 16 from the
# rootless portable binaries (no root, no Docker), then print its connection URL.
set -euo pipefail
cd "$(dirname "$0")/.."

# better-sqlite3 is a native addon: build it against the running node's own headers when they
# are installed beside it, so node-gyp needs no download from nodejs.org
node_prefix="$(dirname "$(dirname "$(command -v node)")")"
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi

echo "==> installing dependencies (npm ci)" >&2
npm ci --no-audit --no-fund >&2
echo "==> building" >&2
npm run --silent build >&2

CLI=(node "$PWD/dist/src/cli/main.js")
if npm link >/dev/null 2>&1 && command -v portunix-db >/dev/null 2>&1; then
  CLI=(portunix-db)
  echo "==> portunix-db is on your PATH" >&2
else
  echo "==> could not 'npm link' (no write access to npm's global prefix); use: node $PWD/dist/src/cli/main.js" >&2
fi

"${CLI[@]}" install postgresql --version 16 --source portable
"${CLI[@]}" status postgresql
echo
echo "Connection URL (password masked; add --show-password to see it):"
"${CLI[@]}" url postgresql
