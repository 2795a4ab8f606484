# Jupyter kernel (kernel/, `lightos kernel`): install the kernelspec into the venv and run
# the protocol conformance suite (jupyter-kernel-test) and the Go QuickStart notebook.
#   make kernelspec    lightos kernel install --sys-prefix (into .venv)
#   make kernel-test   pytest tests/kernel
#   make kernel-bench  start-up time against ipykernel, ResNet-50 from a cell vs compiled Go

.PHONY: kernelspec kernel-test kernel-bench
SETUP_TARGETS += kernelspec
TEST_TARGETS  += kernel-test

kernelspec: $(BIN)/lightos venv
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/lightos kernel install --sys-prefix

kernel-test: kernelspec
	$(VPY) -m pytest -q tests/kernel

kernel-bench: kernelspec
	$(VPY) bench/kernel/startup.py -n 20
	$(GO) run ./bench/kernel/resnet -n 20
