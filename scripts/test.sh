#!/usr/bin/env bash
# The whole test suite, from a machine that has only python3: installs what it needs, then runs
# every test (unit, emulator, both official SDKs, notebooks, lint + types, real-browser tests in
# Debian chromium).
#
# Every run builds its environments anew (.venv-test, .venv-sdk-*) from uv.lock, so nothing left
# on a machine can hide a missing install step; uv's cache makes that a few seconds when warm.
#
#   bash scripts/test.sh [pytest args]           the locked toolchain (what CI runs)
#   bash scripts/test.sh --latest [pytest args]  the newest releases within our ranges, to see
#                                                drift on purpose (linters stay at their pins)
#   .tools/bin/uv lock --upgrade                 refresh the lock (then run the suite, commit)
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
PYTHON=$(command -v python3)
export UV_PYTHON_DOWNLOADS=never UV_PYTHON="$PYTHON" UV_NO_PROGRESS=1

latest=0
if [ "${1:-}" = "--latest" ]; then latest=1; shift; fi

# Debian's chromium for the browser tests (never a browser downloaded by playwright), and a CJK
# font so Chinese pages render as text, not boxes, in their screenshots.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 \
  || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "${missing[*]} missing and cannot be installed here: browser tests will fail" >&2
  fi
fi
# uv itself, pinned, in a small tools environment of its own.
if [ ! -x .tools/bin/uv ] || [ "$(.tools/bin/uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  "$PYTHON" -m venv --clear .tools
  .tools/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi
UV=.tools/bin/uv

# Each official SDK in its own environment (their pyjwt pins conflict); the tests drive them in a
# subprocess with nothing of ours imported.
for sdk in zhipuai zai; do
  rm -rf ".venv-sdk-$sdk"
  UV_PROJECT_ENVIRONMENT=".venv-sdk-$sdk" $UV sync -q --locked --no-install-project --extra "sdk-$sdk"
done

rm -rf .venv-test
if [ "$latest" = 1 ]; then
  $UV venv -q .venv-test
  $UV pip install -q --python .venv-test/bin/python --upgrade -e ".[test]"
else
  UV_PROJECT_ENVIRONMENT=.venv-test $UV sync -q --locked --extra test
fi

# Bytecode for every process the suite starts: tests/conftest.py (pytest_configure).
exec .venv-test/bin/python -m pytest "$@"
