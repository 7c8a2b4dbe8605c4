#!/usr/bin/env bash
# The one list of gates. `make test` runs all of them in order; each GitHub workflow job runs some of them
# by name (`scripts/test.sh lint types`, `scripts/test.sh service:chat-service` …), so what CI checks and
# what `make test` checks cannot drift apart.
#
#   scripts/test.sh                 every gate below, in order
#   scripts/test.sh GATE...         only these gates
#   scripts/test.sh --list GROUP    the names in a group, as JSON (services: the CI test matrix)
#
# Gates:
#   lint            ruff check + ruff format --check over the whole tree
#   types           mypy: the shared package (and its tests), the tools and test helpers, then each service
#                   on its own (every service has a top-level `app` package, so one run over all would see several)
#   service:NAME    the pytest suite of services/NAME against real MariaDB, Redis and the broker (NAME is a
#                   service, or `shared` for the shared package's own suite)
#   services        the shared package's suite and every service's, one pytest process each
#   suites          the cross-cutting suites: docs, config, infra, gateway, e2e (make dev), observability
#   e2e-real        the e2e journey once more with real MariaDB and Redis behind make dev's processes
#   fuzz            schemathesis against each service's OpenAPI document (tests/fuzz), ~1 min per service
#   web             the web client (web/): npm ci from the lockfile, generated API types current, typecheck,
#                   build, Vitest, then Playwright in Chromium against make dev (docs/web.md)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$PWD/.venv/bin"
ALL_GATES=(lint types services suites e2e-real fuzz web)
SUITES=(tests/docs tests/config tests/infra tests/gateway tests/dev tests/e2e tests/observability)
TYPED_HELPERS=(tools/dev tools/docs tools/passwords tools/monitoring tools/images tools/web tests/gateway tests/dev tests/e2e tests/observability tests/support tests/fuzz tests/chaos)
fail=0

service_names() {
    for dir in services/*-service/; do
        basename "$dir"
    done
}

# What `services` runs and the CI test matrix lists: the shared package's suite, then every service's.
suite_names() {
    echo shared
    service_names
}

run() {
    echo
    echo "==> $*"
    "$@" || fail=1
}

in_service() {
    local name=$1
    shift
    echo
    echo "==> ($name) $*"
    (cd "services/$name" && "$@") || fail=1
}

in_web() {
    echo
    echo "==> (web) $*"
    (cd web && "$@") || fail=1
}

gate() {
    case "$1" in
        lint)
            run "$VENV/ruff" check .
            run "$VENV/ruff" format --check .
            ;;
        types)
            # By import name: the services and the tests see chat_shared as the installed (typed) package.
            run "$VENV/mypy" -p chat_shared
            in_service shared "$VENV/mypy" tests
            run "$VENV/mypy" "${TYPED_HELPERS[@]}"
            for name in $(service_names); do in_service "$name" "$VENV/mypy" .; done
            ;;
        service:*)
            in_service "${1#service:}" "$VENV/pytest" -q -p no:cacheprovider tests
            ;;
        services)
            for name in $(suite_names); do gate "service:$name"; done
            ;;
        suites)
            run "$VENV/pytest" -q -p no:cacheprovider "${SUITES[@]}"
            ;;
        e2e-real)
            # Skipped when E2E_BASE_URL points the journey at a running stack (the compose workflow).
            if [ -z "${E2E_BASE_URL:-}" ]; then
                E2E_MYSQL_URL="${TEST_MYSQL_URL:-mysql+aiomysql://root@127.0.0.1:3306}" \
                    E2E_REDIS_URL="${TEST_REDIS_URL_E2E:-redis://127.0.0.1:6379/14}" \
                    run "$VENV/pytest" -q -p no:cacheprovider tests/e2e
            fi
            ;;
        fuzz)
            run "$VENV/pytest" -q -p no:cacheprovider tests/fuzz
            ;;
        web)
            run scripts/install-web.sh
            (cd web && npm ci --no-audit --no-fund --loglevel=error) || fail=1
            run "$VENV/python" tools/web/openapi_schemas.py --check
            in_web npm run typecheck
            in_web npm run build
            in_web npm test
            in_web npx playwright test
            ;;
        *)
            echo "unknown gate: $1 (known: ${ALL_GATES[*]} service:NAME)" >&2
            fail=1
            ;;
    esac
}

if [ "${1:-}" = "--list" ]; then
    case "${2:-}" in
        services)
            names=$(suite_names | sed 's/.*/"&"/' | paste -sd, -)
            echo "[$names]"
            ;;
        gates) printf '%s\n' "${ALL_GATES[@]}" ;;
        *) echo "usage: scripts/test.sh --list services|gates" >&2; exit 2 ;;
    esac
    exit 0
fi

if [ $# -eq 0 ]; then set -- "${ALL_GATES[@]}"; fi
for name in "$@"; do gate "$name"; done
exit $fail
