#!/usr/bin/env bash
# The GPU check in one command, for the lent GPU machine (Python 3.12, torch 2.11; nothing can be fetched there):
# installs the wheels bench/gpu_wheels.sh downloaded here (carry bench/wheels) offline into /tmp/site, prints the
# machine and the versions, then runs bench/gpu_check.py, which writes gpu_check.json and gpu_check.md to $OUT
# after every row. The check plans for 480 s; `timeout 540` stops it inside any loan whatever happens. Extra
# arguments go to the script: `bash bench/gpu_check.sh --dry-run` is the same command on a CPU (no wheels needed).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
export OUT=${OUT:-bench/results} PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
if [[ " $* " != *" --dry-run "* ]] && command -v nvidia-smi >/dev/null && compgen -G "bench/wheels/*.whl" >/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        bench/wheels/*.whl
    export PYTHONPATH="$PYTHONPATH:/tmp/site"  # ahead of the machine's site-packages: mediapipe needs protobuf 4
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
exec timeout 540 "$python" bench/gpu_check.py --out "$OUT" "$@"
