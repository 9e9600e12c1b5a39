#!/usr/bin/env bash
# Makes sure Debian's `nginx` is installed: tests/integration/scoring/test_reverse_proxy.py runs the shipped
# docs/proxy/nginx.conf (ports moved to the test's) in front of scoring and checks that it caches and passes
# conditional requests. Only the binary is used (the test starts its own on a free port); the Debian service is
# stopped and disabled so that it does not hold :80.
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"
apt_install_binary_only nginx "the reverse-proxy cache test" infra/nginx.sh nginx
