#!/usr/bin/env bash
# GPU check for a machine with one CUDA GPU: the full-size fp16 engine against plain diffusers, compile on and off,
# the face-detail pass's cost, peak memory. Under 8 minutes on an H100; rewrites the GPU check section of
# BENCHMARKS.md after every row (see bench/gpu_check.py). Extra arguments go to the script, e.g. --no-compile.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$python" -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__)"
exec timeout 470 "$python" bench/gpu_check.py "$@"
