#!/usr/bin/env bash
# The test command: installs everything the tests need into .venv, then runs them.
# Safe to run again; CI runs exactly this (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install --quiet -e '.[test]'

# Debian packages the tests drive for real, installed when missing and we may (root or sudo):
# chromium for the dashboard's browser tests (Playwright's own browser download does not work
# offline, and is not needed), openssh-server for the static provider's lab hosts (real sshd
# processes, in network namespaces where `ip netns` works).
apt_install() {  # apt_install PACKAGE PROGRAM WHY
    local package=$1 program=$2 why=$3 sudo=""
    if [ -x "$program" ] || ! command -v apt-get >/dev/null 2>&1; then return 0; fi
    if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; fi
    if [ "$(id -u)" != 0 ] && [ -z "$sudo" ]; then return 0; fi
    echo "installing $package for $why (apt-get)" >&2
    $sudo apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package" >/dev/null 2>&1 \
        || echo "error: $package could not be installed; $why will fail" >&2
}
apt_install chromium /usr/bin/chromium "the browser tests"
apt_install openssh-server /usr/sbin/sshd "the static provider's tests"
# bubblewrap for the local provider's sandbox; podman (rootful, settings in a temp folder) for
# the container provider, with runc: crun refuses VMs with hybrid cgroups. About 15 s to install;
# without them those tests skip, saying why.
apt_install bubblewrap /usr/bin/bwrap "the local sandbox's tests"
apt_install podman /usr/bin/podman "the container provider's tests"
apt_install runc /usr/sbin/runc "the container provider's tests"
export OSCI_REQUIRE_BROWSER=${OSCI_REQUIRE_BROWSER:-1}  # a missing browser fails the tests, not skips them

.venv/bin/ruff check src tests bench
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
