#!/usr/bin/env bash
# Builds the web client into web/dist for `make dev` (the dev gateway serves it at /). make calls this only
# when a source is newer than the last build. Without Node.js the API still runs; the client is skipped.
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v npm >/dev/null 2>&1; then
    echo "build-web: npm not found; make dev runs without the web client (needs Node.js 20.19+)" >&2
    exit 0
fi
# npm ci only when the lockfile changed since the last install (it empties node_modules first).
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build -- --logLevel warn
touch dist/index.html
