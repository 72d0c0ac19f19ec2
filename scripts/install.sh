#!/usr/bin/env bash
# Install visgen (and its built-in plugins) into the active Python environment.
#
#   bash scripts/install.sh          # the app
#   bash scripts/install.sh --dev    # the app plus pytest and pytest-qt
#
# torch comes first, pinned, so that pip takes the CPU build: a bare "torch"
# requirement on a machine without torch pulls gigabytes of CUDA packages.
# Where no local CPU wheel is on pip's find-links, point VISGEN_TORCH_INDEX at
# PyTorch's CPU index (https://download.pytorch.org/whl/cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_VERSION=${VISGEN_TORCH_VERSION:-2.13.0}
PIP=("$PY" -m pip install --disable-pip-version-check --quiet)

if "$PY" -c "import torch" 2>/dev/null; then
  echo "install: torch $("$PY" -c 'import torch; print(torch.__version__)') already present"
else
  echo "install: torch==$TORCH_VERSION (CPU build)"
  "${PIP[@]}" "torch==$TORCH_VERSION" ${VISGEN_TORCH_INDEX:+--index-url "$VISGEN_TORCH_INDEX"}
fi

extra=""
[ "${1:-}" = "--dev" ] && extra="[dev]"
echo "install: visgen$extra"
"${PIP[@]}" -e ".$extra"
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true  # make the new 'visgen' command visible
"$PY" -c "import torch, visgen; print('install: ok, visgen', visgen.__version__, '/ torch', torch.__version__)"
