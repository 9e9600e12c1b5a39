#!/usr/bin/env bash
# Makes sure Debian's `chromium` is installed for the dashboard's browser tests (tests/integration/dashboard/).
# Playwright drives it through executable_path=/usr/bin/chromium; no browser is ever downloaded by Playwright
# (never run `playwright install`). Installs with apt-get when run as root; otherwise says what to run.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    cat >&2 <<MSG
$CHROMIUM is missing: the dashboard's end-to-end tests need Debian's chromium package.
Install it once as root, then run the tests again:
    sudo apt-get update && sudo apt-get install -y chromium
(or: sudo bash infra/chromium.sh)
MSG
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "$CHROMIUM is missing and apt-get is not available: install a Chromium at $CHROMIUM by hand." >&2
    exit 1
fi

echo "installing Debian's chromium for the dashboard browser tests…"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium
test -x "$CHROMIUM"
"$CHROMIUM" --version 2>/dev/null | head -n 1 || true
