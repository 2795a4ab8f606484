//go:build !amd64 || purego

package gemm

// defaultKernel is the pure-Go kernel: no assembly on this platform or build.
var defaultKernel = &kernel{name: "go-6x16", mr: 6, nr: 16, kc: 256, mc: 144, nc: 4080, fn: kernelGeneric(6, 16)}
