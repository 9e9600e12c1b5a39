#!/usr/bin/env bash
# Makes sure Debian's `nginx` is installed: tests/integration/scoring/test_reverse_proxy.py runs the shipped
# docs/proxy/nginx.conf (ports moved to the test's) in front of scoring and checks that it caches and passes
# conditional requests. Only the binary is used (the test starts its own on a free port); the Debian service it
# brings is stopped and disabled so that it does not hold :80. Installs with apt-get when run as root; otherwise
# says what to run.
set -euo pipefail

command -v nginx >/dev/null 2>&1 && exit 0

source "$(dirname "$0")/apt_install.sh"
apt_install "the reverse-proxy cache test" infra/nginx.sh nginx
if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now nginx >/dev/null 2>&1 || true
fi
