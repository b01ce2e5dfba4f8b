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

# The dashboard's browser tests drive Debian's chromium (Playwright's own browser download does
# not work offline, and is not needed). Installed here when missing and we may (root or sudo).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
    if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
        echo "installing chromium for the browser tests (apt-get)" >&2
        $SUDO apt-get update -qq >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null 2>&1 \
            || echo "error: chromium could not be installed; the browser tests will fail" >&2
    fi
fi
# The static provider's tests start real OpenSSH servers (Debian's openssh-server), in network
# namespaces where `ip netns` works. Installed here when missing, as chromium is.
if [ ! -x /usr/sbin/sshd ] && command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
    if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
        echo "installing openssh-server for the static provider's tests (apt-get)" >&2
        $SUDO apt-get update -qq >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssh-server >/dev/null 2>&1 \
            || echo "error: openssh-server could not be installed; the static provider's tests will fail" >&2
    fi
fi
export OSCI_REQUIRE_BROWSER=${OSCI_REQUIRE_BROWSER:-1}  # a missing browser fails the tests, not skips them

.venv/bin/ruff check src tests bench
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
