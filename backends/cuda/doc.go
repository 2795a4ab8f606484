// Package cuda runs engine graphs on NVIDIA GPUs through the CUDA driver API
// (libcuda.so.1), cuBLASLt and NVRTC, all loaded at run time with
// github.com/ebitengine/purego: nothing of CUDA is needed at build time, and a
// CGO_ENABLED=0 binary built on a machine without a GPU runs on one with a GPU.
//
// The pieces:
//
//   - lib.go, driver.go: the driver API (primary context, one non-blocking stream per
//     device, the stream-ordered memory pool, pinned staging buffers, module load,
//     kernel launch, events, stream capture into CUDA graphs).
//   - nvrtc.go: CUDA C compiled at run time for the device's architecture; modules are
//     cached per device and source, so each kernel source is compiled once per process.
//   - blaslt.go: cuBLASLt matrix products with bias/ReLU/GELU epilogues in float32
//     (optionally TF32), bfloat16 and float16.
//   - kernels.go: the CUDA C of the elementwise, activation, softmax, layernorm,
//     reduction, transpose and cast kernels.
//   - ops.go: the operator table: which graph nodes the GPU runs and how.
//   - attention.go: a fused attention kernel (online softmax, K/V through shared
//     memory, strided operands so heads need no transposes), compiled per head size;
//     shapes it does not cover use batched products and a row softmax.
//   - bench.go: TimeGEMM, cuBLASLt timing on device-resident random data.
//   - plan.go: Plan, a graph compiled for fixed input shapes: every intermediate stays
//     in device memory taken from the pool when the plan is built; a run copies the
//     feeds in through pinned staging, launches each step (or replays the whole plan as
//     one CUDA graph), and copies the outputs out.
//   - device.go: Device, a backends.KernelProvider, so exec.Session can use the GPU
//     node by node (each node a one-node Plan: correct but copying per node; use Plan
//     for speed), and the registry provider.
//
// What is not here: convolution (no cuDNN binding, no implicit-GEMM kernel), operators
// outside the table in ops.go (they return errors wrapping backends.ErrUnsupported),
// float16/bfloat16 outside MatMul, liveness-based reuse of device buffers inside a plan
// (each value has its own buffer), feeds already in device memory (every Run copies
// its feeds in), and multi-GPU placement (one Device per GPU exists; nothing schedules
// across them).
//
// Libraries are found by soname first, then in LIGHTOS_CUDA_LIBS (a colon-separated
// list of folders), the CUDA toolkit's folders and the NVIDIA wheels of Python
// environments (see libDirs).
//
// A missing driver or library gives an error wrapping ErrDeviceNotFound with the loader's
// reason; a failing CUDA call gives an *Error naming the call, the CUDA error and, inside
// a plan, the node and operator.
package cuda
