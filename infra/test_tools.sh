#!/usr/bin/env bash
# Every Debian tool the tests need (infra/chromium.sh, notice_tools.sh, prometheus.sh, nginx.sh), installed in one
# apt run when several are missing — a fresh CI machine then pays one `apt-get update` instead of four — followed by
# each script's own check. `make test` runs this beside the virtualenv's build (both take a minute or two on a fresh
# machine). As root with apt-get it installs; otherwise each script says what to run and this fails.
set -euo pipefail
cd "$(dirname "$0")/.."

with_recommends=() without_recommends=()
[ -x /usr/bin/chromium ] || with_recommends+=(chromium)  # as infra/chromium.sh installs it
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf ] || without_recommends+=(fonts-dejavu-core)
command -v pdftotext >/dev/null 2>&1 || without_recommends+=(poppler-utils)
servers=()
command -v prometheus >/dev/null 2>&1 || servers+=(prometheus)
command -v nginx >/dev/null 2>&1 || servers+=(nginx)
without_recommends+=("${servers[@]}")

if [ $((${#with_recommends[@]} + ${#without_recommends[@]})) -gt 0 ] && [ "$(id -u)" -eq 0 ] \
    && command -v apt-get >/dev/null 2>&1; then
    echo "installing for the tests: ${with_recommends[*]} ${without_recommends[*]}…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    [ ${#with_recommends[@]} -eq 0 ] || apt-get install -y -qq "${with_recommends[@]}"
    [ ${#without_recommends[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${without_recommends[@]}"
    # The tests start their own Prometheus and nginx on ports of their own: the services Debian starts would hold
    # :9090 and :80 (as infra/apt_install.sh's apt_install_binary_only does).
    if command -v systemctl >/dev/null 2>&1; then
        for server in "${servers[@]}"; do
            systemctl disable --now "$server" >/dev/null 2>&1 || true
        done
    fi
fi

for script in chromium notice_tools prometheus nginx; do
    bash "infra/$script.sh"
done
