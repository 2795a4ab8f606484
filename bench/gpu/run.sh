#!/bin/sh
# Runs on the GPU machine from the repository root, after `make gpu-test` here:
#   bench/gpu/run.sh [case]     (case: gemm, mlp, encoder or all)
# Interleaves LightOS and PyTorch on the same card and prints every JSON line.
set -e
case=${1:-all}
for c in $( [ "$case" = all ] && echo gemm mlp encoder || echo "$case" ); do
  bin/gpu/gpubench -case "$c"
  PYTHONUNBUFFERED=1 python3 bench/gpu/torch_ref.py --case "$c"
done
