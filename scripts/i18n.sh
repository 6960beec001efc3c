#!/usr/bin/env bash
# Compile the message catalogue (.po -> .mo, with Babel from the test environment). Run it after
# editing cogvideo_nb/locale/*/LC_MESSAGES/cogvideo_nb.po; tests/test_i18n.py fails until you do.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv-test/bin/pybabel compile -d cogvideo_nb/locale -D cogvideo_nb
