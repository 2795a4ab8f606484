// Package cuda runs engine graphs on NVIDIA GPUs through the CUDA driver API
// (libcuda.so.1), cuBLASLt, NVRTC and (when installed) cuDNN 9, all loaded at run time with
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
//   - attention.go, attention_tc.go: fused attention kernels (online softmax, K/V
//     copied to shared memory with cp.async, strided operands so heads need no
//     transposes), compiled per head size: a float32 CUDA-core kernel (1, 4 or 8 rows
//     a warp) and, when TF32 is allowed and head sizes are multiples of 8 up to 64, a
//     tensor-core kernel (mma.sync TF32); the plan times them and keeps the fastest.
//     Shapes they do not cover use batched products and a row softmax.
//   - cudnn.go: cuDNN 9's legacy convolution API (descriptors, FindEx once per shape and
//     device, cudnnConvolutionForward, cudnnConvolutionBiasActivationForward).
//   - conv.go: Conv and FusedConv (bias, residual, ReLU/LeakyRelu), MaxPool, AveragePool,
//     Global{Average,Max}Pool. Each convolution's candidates are timed while the plan is
//     built and the fastest kept: cuDNN as one fused bias+ReLU(+residual) call, cuDNN
//     plus an epilogue kernel, a 1x1 convolution as one cuBLASLt product (bias, residual
//     as C, ReLU in the epilogue), im2col plus that product; without cuDNN (or for
//     what it refuses), a direct NVRTC kernel. With cuDNN, values that flow only between
//     convolutions and pooling are kept NHWC (PlanOptions.NoChannelsLast turns it off).
//   - buffer.go: Buffer, device memory the caller owns (Upload, Download) or a plan's
//     own input and output buffers (Plan.Input, Plan.Output, Plan.RunDevice: feeds
//     already on the device, read in place).
//   - bench.go: TimeGEMM, cuBLASLt timing on device-resident random data.
//   - plan.go: Plan, a graph compiled for fixed input shapes: every intermediate stays
//     in device memory taken from the pool when the plan is built, a buffer reused by
//     later values once its last reader is built (liveness in node order;
//     PlanOptions.NoReuse turns it off); a residual Add read only by a
//     LayerNormalization is added inside that kernel; each cuBLASLt product keeps the
//     fastest of the heuristic's first algorithms (timed while building). A run copies
//     the feeds in through pinned staging, launches each step (or replays the whole
//     plan as one CUDA graph), and copies the outputs out. Plan.Kernels reports the
//     choices made.
//   - device.go: Device, a backends.GraphCompiler and a backends.KernelProvider, and
//     the registry provider. exec.Session (the server, the Python module, lightos run)
//     compiles each set of input shapes into one whole-graph Plan through CompileGraph;
//     only a graph with an operator the GPU lacks runs node by node through Kernel
//     (each node a one-node Plan, copying per node), normally behind backends.Fallback
//     so that those operators run on the CPU.
//
// What is not here: operators outside the table in ops.go (they return errors wrapping
// backends.ErrUnsupported; backends.Fallback runs those nodes on the CPU), 1-D and 3-D
// convolution and pooling, MaxPool's Indices output, float16/bfloat16 outside MatMul
// (models run float32, with TF32 tensor cores when Options.TF32), and splitting one
// graph over several GPUs. Several GPUs are one Device each (the registry opens them
// all); a PowerGovernor over them places whole jobs on them (governor_test.go, run on
// two H200s: a burst of 48 jobs ran on both).
//
// Libraries are found by soname first, then in LIGHTOS_CUDA_LIBS (a colon-separated
// list of folders), the CUDA toolkit's folders and the NVIDIA wheels of Python
// environments (see libDirs).
//
// A missing driver or library gives an error wrapping ErrDeviceNotFound with the loader's
// reason; a failing CUDA call gives an *Error naming the call, the CUDA error and, inside
// a plan, the node and operator.
package cuda
