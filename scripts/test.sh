#!/usr/bin/env bash
# Everything `make test` runs, in order: lint, types, each service's suite (separate processes: every
# service has a top-level `app` package), then the cross-cutting suites under tests/.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv/bin
fail=0
run() { echo; echo "==> $*"; "$@" || fail=1; }

run "$VENV/ruff" check .
run "$VENV/mypy" services/shared/src
run "$VENV/mypy" tools/dev tests/gateway tests/e2e tests/observability tests/support
for svc in services/*-service; do
  [ -f "$svc/main.py" ] || continue
  (cd "$svc" && echo && echo "==> mypy $svc" && "../../$VENV/mypy" .) || fail=1
done
for svc in services/*-service; do
  [ -d "$svc/tests" ] || continue
  (cd "$svc" && echo && echo "==> pytest $svc" && "../../$VENV/pytest" -q -p no:cacheprovider tests) || fail=1
done
suites=()
for dir in tests/docs tests/config tests/infra tests/gateway tests/e2e tests/observability; do
  if compgen -G "$dir/test_*.py" >/dev/null; then suites+=("$dir"); fi
done
if [ ${#suites[@]} -gt 0 ]; then run "$VENV/pytest" -q -p no:cacheprovider "${suites[@]}"; fi
# The same e2e journey once more with real MariaDB and Redis behind make dev's processes.
if [ -z "${E2E_BASE_URL:-}" ] && compgen -G "tests/e2e/test_*.py" >/dev/null; then
  E2E_MYSQL_URL="${TEST_MYSQL_URL:-mysql+aiomysql://root@127.0.0.1:3306}" \
  E2E_REDIS_URL="${TEST_REDIS_URL_E2E:-redis://127.0.0.1:6379/14}" \
    run "$VENV/pytest" -q -p no:cacheprovider tests/e2e
fi
exit $fail
