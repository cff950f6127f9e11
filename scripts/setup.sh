#!/usr/bin/env bash
# Quick start, step 1: install portunix-db and bring up a working PostgreSQL 16 from the
# rootless portable binaries (no root, no Docker), then print its connection URL.
set -euo pipefail
cd "$(dirname "$0")/.."

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
