#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, then runs every test
# (unit, emulator, notebooks, lint + types, and the real-browser tests in Debian chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing and cannot be installed here: browser tests will be skipped" >&2
  fi
fi

python -m pip install -q --disable-pip-version-check -e ".[test]"
exec python -m pytest "$@"
