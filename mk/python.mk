# Python side of LightOS (issue 3): the venv, the gopy extension, the Python tests.
# Included by the top-level Makefile, which defines GO, PYTHON, VENV and VPY.
#   make venv         .venv with requirements-dev.txt
#   make pyext        build lightos_accelerated's extension (pinned gopy) into the package, editable install
#   make python-test  pytest tests/python (the QuickStart notebook included, run by nbclient)
#   make python-bench bench/python: matmul vs pure Python and NumPy, execute() overhead, MLP vs NumPy

PY_STAMP := $(VENV)/.requirements-stamp
PYEXT_SO  = $(wildcard python/lightos_accelerated/_ext/_lightos*.so)

.PHONY: venv pyext python-test python-bench

venv: $(PY_STAMP)

$(PY_STAMP): requirements-dev.txt
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements-dev.txt
	touch $@

pyext: venv
	mkdir -p .work/tools
	$(GO) build -o .work/tools/ tool
	PATH="$(CURDIR)/.work/tools:$$PATH" $(VPY) -m pip install -q --no-build-isolation -e .

python-test: pyext
	$(VPY) -m pytest -q tests/python

python-bench: pyext
	$(VPY) bench/python/bench_matmul.py
	$(VPY) bench/python/bench_matmul_calls.py
	$(VPY) bench/python/bench_overhead.py
	$(VPY) bench/python/bench_mlp.py

SETUP_TARGETS += pyext
TEST_TARGETS  += python-test
