#!/usr/bin/env bash
# Stage what scripts/gpu_check.sh needs on a GPU machine that has torch and transformers but no
# `datasets` and no network: CIFAR-10 (parquet, 54 MB) and three pure-Python wheels (0.8 MB), in
# .gpu/ (git-ignored). Run once, from the repository root; then carry .gpu to the GPU machine.
set -euo pipefail
DATA=${1:-../shared/data/cifar10-jpeg}
STAGE=.gpu
PY=${PYTHON:-python3}
mkdir -p "$STAGE/whl"
rm -rf "$STAGE/cifar10-jpeg" && cp -r "$DATA" "$STAGE/cifar10-jpeg" && chmod -R u+w "$STAGE/cifar10-jpeg"
# datasets and the two packages it needs that GPU images usually lack (their other needs are common)
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$STAGE/whl" datasets==4.8.5 dill==0.4.1 multiprocess==0.70.19
du -sh "$STAGE"
