#!/usr/bin/env bash
# Makes sure Debian's `prometheus` is installed: tests/integration/test_prometheus_dashboard.py runs a real Prometheus
# against the test stack and evaluates every query of the Grafana dashboard (infra/grafana/dashboards/). Only the
# binary is used (the test starts its own on a free port); the Debian service it brings is stopped and disabled so
# that it does not scrape anything or hold :9090. Installs with apt-get when run as root; otherwise says what to run.
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"
apt_install_binary_only prometheus "the Grafana dashboard's query test" infra/prometheus.sh prometheus
