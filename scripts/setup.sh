#!/usr/bin/env bash
# Set up lstmkit in ./.venv (idempotent): Python venv, PyTorch, then lstmkit with its test tools.
#
# PyTorch comes first, so that pip never resolves `torch` on its own: on Linux an unpinned or
# plain PyPI torch is a multi-GB CUDA build. Where torch is already importable it is kept.
# Otherwise, on a machine with an NVIDIA GPU (nvidia-smi present) torch==$TORCH_VERSION comes
# from PyPI; without one, the CPU build: a local +cpu wheel where pip's find-links hold one,
# else PyTorch's own CPU wheel index ($TORCH_CPU_INDEX).
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
TORCH_CPU_INDEX="${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
EXTRAS="${1:-test}"

[ -x .venv/bin/python ] || python3 -m venv .venv
PY=.venv/bin/python

if ! "$PY" -c "import torch" 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1; then
        "$PY" -m pip install -q "torch==$TORCH_VERSION"
    elif "$PY" -m pip install -q --dry-run --no-deps --no-index "torch==$TORCH_VERSION+cpu" >/dev/null 2>&1; then
        "$PY" -m pip install -q "torch==$TORCH_VERSION+cpu"          # the local CPU wheel
    else
        "$PY" -m pip install -q "torch==$TORCH_VERSION" --index-url "$TORCH_CPU_INDEX" \
            --extra-index-url https://pypi.org/simple
    fi
fi
# the project's own dependencies; the stamp skips this when pyproject.toml has not changed
stamp=".venv/.lstmkit-installed-$EXTRAS"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$PY" -m pip install -q -e ".[$EXTRAS]"
    touch "$stamp"
fi
# compile the fused kernels now, side by side (about a minute per family), rather than one
# after another on first use; prints what this installation runs on and the cache's state
.venv/bin/lstmkit info
