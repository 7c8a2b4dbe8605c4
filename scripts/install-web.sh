#!/usr/bin/env bash
# Installs what the web client's gate needs beyond web/package-lock.json: a Chromium for Playwright.
#
# Playwright's own browser download is not used (CI machines reach the package registries and nothing else):
# the suite drives Debian's Chromium at /usr/bin/chromium, or whatever CHROMIUM names. Idempotent: nothing
# is installed when that browser is already there. Node.js (>= 20.19, with npm) must be on the machine.
set -euo pipefail

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "install-web: Node.js 20.19+ with npm is needed for web/ (https://nodejs.org or your distribution)" >&2
    exit 1
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
    echo "install-web: Node.js $(node --version) is too old for web/ (Vite needs 20.19+)" >&2
    exit 1
fi

browser="${CHROMIUM:-/usr/bin/chromium}"
missing=()
[[ -x "$browser" ]] || missing+=(chromium)
# Emoji glyphs for the reaction buttons in the suite's screenshots (docs/images/web-client.png).
if command -v dpkg >/dev/null 2>&1 && ! dpkg -s fonts-noto-color-emoji >/dev/null 2>&1; then
    missing+=(fonts-noto-color-emoji)
fi
if ((${#missing[@]} == 0)); then
    echo "install-web: browser present ($browser)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-web: missing ${missing[*]} and no apt-get here; install Chromium and set CHROMIUM" >&2
    exit 1
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-web: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A stale package list makes apt-get install fail with 404s; refresh it once, only when we install.
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-web: done"
