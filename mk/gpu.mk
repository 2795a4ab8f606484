# GPU (backends/cuda): test and benchmark binaries built here with CGO_ENABLED=0,
# carried to an NVIDIA machine and run there (no Go toolchain or CUDA SDK needed
# there; libcuda, libcublasLt, libnvrtc and, when present, libcudnn.so.9 are loaded at
# run time).
#   make gpu-test                        builds bin/gpu/cuda.test and bin/gpu/gpubench
#   bin/gpu/cuda.test -test.v            (on the GPU machine) every GPU op against the CPU
#   bench/gpu/run.sh                     (on the GPU machine) timings against PyTorch
#   bench/gpu/device.sh tests bench:resnet torchc:resnet ...
#                                        (on the GPU machine) the same, with the NVIDIA
#                                        wheels' library folders set for cuDNN
# Without a GPU the tests skip, saying why.

.PHONY: gpu-test
## gpu-test: builds the GPU test and benchmark binaries (CGO_ENABLED=0) into bin/gpu
gpu-test:
	@mkdir -p $(BIN)/gpu
	CGO_ENABLED=0 $(GO) test -c -o $(BIN)/gpu/cuda.test ./backends/cuda
	CGO_ENABLED=0 $(GO) build -o $(BIN)/gpu/gpubench ./bench/gpu
	@ls -l $(BIN)/gpu
