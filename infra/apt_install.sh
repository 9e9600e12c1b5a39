#!/usr/bin/env bash
# Sourced by the infra/*.sh scripts that install Debian tools the tests need:
#   apt_install "what they are for" SCRIPT PACKAGE...
# Installs the packages with apt-get when run as root; otherwise says what to run and fails.
apt_install() {
    local purpose=$1 script=$2
    shift 2
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "missing for $purpose: $*; install them once as root:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends $*   (or: sudo bash $script)" >&2
        return 1
    fi
    echo "installing $* for $purpose…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@"
}
