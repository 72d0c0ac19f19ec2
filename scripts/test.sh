#!/usr/bin/env bash
# Install everything the tests need, then run them: the one test command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/install.sh --dev
export QT_QPA_PLATFORM=offscreen OMP_WAIT_POLICY=PASSIVE
exec "${PYTHON:-python3}" -m pytest -q "$@"
