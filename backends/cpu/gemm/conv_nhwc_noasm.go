//go:build !amd64 || purego

package gemm

// nhwcKernels lists the ConvNHWC kernel sets this build can run: the Go twin.
var nhwcKernels = []*nhwcKernel{nhwcKernelGo}

// nhwcKernelMatching returns the ConvNHWC kernel set for a GEMM kernel: here
// always the Go twin.
func nhwcKernelMatching(k *kernel) *nhwcKernel { return nhwcKernelGo }
