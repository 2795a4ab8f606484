#!/bin/sh
# Runs on the GPU machine from the repository root, after `make gpu-test` here:
#   bench/gpu/run.sh [case] [--compile]   (case: gemm, mlp, encoder, resnet or all)
# Interleaves LightOS and PyTorch on the same card and prints every JSON line;
# --compile also times torch.compile on the PyTorch side.
set -e
case=${1:-all}
extra=${2:-}
for c in $( [ "$case" = all ] && echo gemm mlp encoder resnet || echo "$case" ); do
  bin/gpu/gpubench -case "$c"
  PYTHONUNBUFFERED=1 python3 bench/gpu/torch_ref.py --case "$c" $extra
done
