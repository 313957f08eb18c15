#!/usr/bin/env bash
# Downloads, here (where PyPI is reachable), the exact cp312 manylinux wheels the lent GPU machine lacks into
# bench/wheels/ (git-ignored): that machine has Python 3.12, torch 2.11, numpy 2.5, transformers 5.17 and no
# diffusers, mediapipe or datasets, and can fetch nothing. bench/gpu_check.sh installs them there, offline.
# Each name is pinned to what requirements.txt runs here; their needs the machine lacks are named too (--no-deps).
# mediapipe's OpenCV comes from the machine's opencv-python-headless (the contrib wheel alone is over the 64 MiB a
# call carries) and its protobuf must stay below 5 (its graph code calls an API protobuf 5 removed).
set -euo pipefail
cd "$(dirname "$0")/.."
wheels=bench/wheels
mkdir -p "$wheels"
platforms=()
for platform in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
    manylinux1_x86_64; do
    platforms+=(--platform "$platform")
done
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d "$wheels" \
    diffusers==0.42.1 importlib-metadata==10.2.0 lazy-importer==0.1.0 \
    mediapipe==0.10.14 protobuf==4.25.8 \
    datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
du -sh "$wheels"
ls "$wheels"
