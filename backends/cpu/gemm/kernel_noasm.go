//go:build !amd64 || purego

package gemm

// kernels lists the kernels this build can run: only the Go twin.
var kernels = []*kernel{kernelGo}

func fmaPeak(n int) float64 { return 0 }

var (
	biasAct = biasActGo
	axpy    = axpyGo
)

func packStridedAsm(dst, src *float32, ld, kc, nr int) bool        { return false }
func packOffsetsAsm(dst, src *float32, offs *int, kc, nr int) bool { return false }
