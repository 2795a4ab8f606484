//go:build amd64 && !purego

package gemm

// nhwcKernels lists the ConvNHWC kernel sets this CPU can run, fastest first.
// (For now only the Go twin; the assembly ones follow.)
var nhwcKernels = []*nhwcKernel{nhwcKernelGo}

// nhwcKernelMatching returns the ConvNHWC kernel set with the instruction
// set of the GEMM kernel k.
func nhwcKernelMatching(k *kernel) *nhwcKernel { return nhwcKernels[0] }
