# LightOS entry points. From a fresh clone:
#   make demo   sets everything up and runs the main job
#   make test   sets everything up and runs every test
# Other targets: setup, bench, gpu-test, wheel, onnx-conformance, fuzz, clean.

GO        ?= go
PYTHON    ?= python3
VENV      := .venv
VPY       := $(VENV)/bin/python
BIN       := bin
export GOFLAGS := -mod=mod

.PHONY: all setup demo test go-test go-race bench gpu-test wheel onnx-conformance fuzz clean

all: setup

# Helpers' fragments: Python module, Jupyter kernel, server, ... (each defines its
# own targets and appends to SETUP_TARGETS / TEST_TARGETS).
SETUP_TARGETS :=
TEST_TARGETS  :=
include $(wildcard mk/*.mk)

$(BIN)/lightos: $(shell find . -name '*.go' -not -path './.venv/*' 2>/dev/null) go.mod
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/lightos ./cmd/lightos

## setup: Go modules, the lightos binary, and whatever the fragments need (venv, extension, kernelspec)
setup: go-deps $(BIN)/lightos $(SETUP_TARGETS)

go-deps:
	$(GO) mod download

## demo: load a small generated model, optimize it, run it; print predictions, latency, fusions, telemetry
demo: setup
	$(BIN)/lightos demo

## test: every test: Go (race detector on the engine), then the fragments' suites
test: setup go-test go-race $(TEST_TARGETS)

go-test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

go-race:
	$(GO) test -count=1 -race ./engine/...

## fuzz: a short run of every fuzz target
fuzz:
	$(GO) test -run=^$$ -fuzz=FuzzDecode -fuzztime=30s ./engine/formats/native

## bench: Go benchmarks of the engine (ratios against NumPy live in bench/*)
bench: setup
	$(GO) test -run=^$$ -bench=. -benchtime=3x ./engine/... ./backends/cpu/...

clean:
	rm -rf $(BIN) build dist *.egg-info
