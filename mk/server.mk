# Server tests: tritonclient (gRPC and HTTP), grpc health and curl against a real
# `lightos serve` process. Needs the venv (mk/python.mk) and bin/lightos.
TEST_TARGETS += server-test

.PHONY: server-test serve-bench
server-test: $(BIN)/lightos venv
	cd tests/server && ../../$(VPY) -m pytest -q .

## serve-bench: throughput and p50/p99 over gRPC at several concurrencies (bench/serve)
serve-bench:
	$(GO) run ./bench/serve -duration 5s
