#!/bin/bash
# Runs on the GPU machine (through the device tool) from the repository root, after
# `make gpu-test` here: prints the card, points LIGHTOS_CUDA_LIBS and LD_LIBRARY_PATH
# at the NVIDIA wheels' libraries (cuDNN 9 loads its sub-libraries by name), then runs
# each step given as an argument, writing logs under $OUT (or /tmp/out):
#   tests        bin/gpu/cuda.test -test.v
#   tests:REGEX  bin/gpu/cuda.test -test.v -test.run REGEX
#   exec:CMD     CMD (a shell command line, e.g. bin/gpu/servebench ...), log exec.log
#   bench:CASE   bin/gpu/gpubench -case CASE
#   torch:CASE   torch_ref.py --case CASE
#   torchc:CASE  torch_ref.py --case CASE --compile
out=${OUT:-/tmp/out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,temperature.gpu,power.draw,clocks.sm --format=csv,noheader
libs=$(python3 - <<'PY'
import glob, site
dirs = []
for p in site.getsitepackages():
    dirs += glob.glob(p + "/nvidia/*/lib") + glob.glob(p + "/nvidia/*/*/lib")
print(":".join(sorted(set(dirs))))
PY
)
export LIGHTOS_CUDA_LIBS=$libs LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
ls $(echo "$libs" | tr ':' '\n' | grep cudnn) 2>/dev/null | head -20
for step in "$@"; do
  t0=$(date +%s)
  case $step in
  tests) bin/gpu/cuda.test -test.v -test.timeout 300s 2>&1 | tee "$out/tests.log" | grep -v "^=== RUN\|^    --- PASS" ;;
  tests:*) bin/gpu/cuda.test -test.v -test.timeout 300s -test.run "${step#tests:}" 2>&1 | tee -a "$out/tests.log" | grep -v "^=== RUN\|^    --- PASS" ;;
  exec:*) bash -c "${step#exec:}" 2>&1 | tee -a "$out/exec.log" ;;
  bench:*) bin/gpu/gpubench -case "${step#bench:}" 2>&1 | tee -a "$out/results.jsonl" ;;
  torch:*) PYTHONUNBUFFERED=1 python3 bench/gpu/torch_ref.py --case "${step#torch:}" 2>&1 | tee -a "$out/results.jsonl" ;;
  torchc:*) PYTHONUNBUFFERED=1 python3 bench/gpu/torch_ref.py --case "${step#torchc:}" --compile 2>&1 | tee -a "$out/results.jsonl" ;;
  esac
  echo "# step $step took $(( $(date +%s) - t0 )) s"
done
