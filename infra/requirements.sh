#!/usr/bin/env bash
# Checks what the local stack needs besides Python packages: Python >= 3.11, Java 17+ and Maven (for Kafka).
# As root on a Debian/Ubuntu machine it installs what is missing; otherwise it says what to install.
set -euo pipefail
missing=()
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || missing+=(python3)
if command -v java >/dev/null; then
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [ "${major:-0}" -ge 17 ] || missing+=(openjdk-17-jre-headless)
else
  missing+=(openjdk-17-jre-headless)
fi
command -v mvn >/dev/null || missing+=(maven)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "requirements: installing ${missing[*]} with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "requirements: please install ${missing[*]} (Python 3.11+, Java 17+, Maven)" >&2
  exit 1
fi
