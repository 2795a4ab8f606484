#!/bin/sh
# Compare the CPU backend's NN kernels with NumPy on this machine; see run.py.
# Uses the project venv (/work/main/.venv, or $PYTHON) for NumPy.
set -e
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
exec "$PY" bench/nn/run.py "$@"
