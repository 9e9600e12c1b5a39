#!/usr/bin/env bash
# Sourced by the infra/*.sh scripts that install Debian tools the tests need:
#   apt_install "what they are for" SCRIPT PACKAGE...
# Installs the packages with apt-get when run as root; otherwise says what to run and fails.
#   apt_install_binary_only BINARY "what it is for" SCRIPT PACKAGE
# The same for a server package whose binary alone the tests run (on ports of their own): nothing when BINARY is
# on the PATH; else installed, and the Debian service it brings stopped and disabled (it would hold its port).
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

apt_install_binary_only() {
    local binary=$1 purpose=$2 script=$3 package=$4
    command -v "$binary" >/dev/null 2>&1 && return 0
    apt_install "$purpose" "$script" "$package"
    if command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now "$package" >/dev/null 2>&1 || true
    fi
}
