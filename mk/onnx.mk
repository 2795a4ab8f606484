# ONNX loader (issue 4): architecture and ai.onnx.ml tests against onnxruntime, the
# ONNX Runtime comparison benchmark. Included by the top-level Makefile.
#   make onnx-test    pytest tests/onnx (ResNet-50, MobileNetV2, BERT, GPT built by
#                     scripts/make_onnx_models.py, run by lightos run vs onnxruntime)
#   make onnx-bench   bench/compare_ort.py (latency vs ORT, load time ONNX vs native)
# The conformance report: LIGHTOS_ONNX_REPORT=1 go test -count=1 -run TestONNXConformance -v ./engine/formats/onnx

.PHONY: onnx-test onnx-bench

onnx-test: venv $(BIN)/lightos
	LIGHTOS_BIN=$(CURDIR)/$(BIN)/lightos $(VPY) -m pytest -q tests/onnx

onnx-bench: venv $(BIN)/lightos
	$(VPY) bench/compare_ort.py --lightos $(CURDIR)/$(BIN)/lightos

TEST_TARGETS += onnx-test
