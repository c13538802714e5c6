#!/usr/bin/env bash
# The veRL side environment the tests check the veRL export against: `bash scripts/verl-side.sh DIR`.
# veRL 0.9.1 pins transformers < 5.11 (ours is newer) and pulls in a GPU training stack, so it is not installed
# into .venv. Instead DIR gets veRL itself (--no-deps) and only what the code the tests run imports (Hydra and
# OmegaConf for its config, Ray and TensorDict for `import verl`), layered over .venv's torch and transformers
# through PYTHONPATH (tests/verl_probe.py). About 80 MB to download, 270 MB on disk.
set -euo pipefail
DIR=${1:?usage: scripts/verl-side.sh DIR}
PY=${PYTHON:-.venv/bin/python}
PINS=(
  verl==0.9.1 hydra-core==1.3.8 omegaconf==2.3.0 antlr4-python3-runtime==4.9.3
  ray==2.60.0 tensordict==0.10.0 pyvers==0.1.0 msgpack==1.2.4 orjson==3.13.0 codetiming==1.4.0
  importlib-metadata==10.2.0 zipp==4.1.2
)
if [ -f "$DIR/.complete" ] && [ "$(cat "$DIR/.complete")" = "${PINS[*]}" ]; then
  echo "veRL side environment: $DIR (up to date)"; exit 0
fi
rm -rf "$DIR.partial"
"$PY" -m pip install -q --no-deps --target "$DIR.partial" "${PINS[@]}"
echo "${PINS[*]}" > "$DIR.partial/.complete"
rm -rf "$DIR" && mv "$DIR.partial" "$DIR"
PYTHONPATH="$DIR" "$PY" -c "import verl; print('veRL side environment:', '$DIR', 'verl', verl.__version__)"
