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
func packAAsm(dst, src []float32, lda, kc, mr int) bool            { return false }
func packTAsm(dst, src []float32, ld, kc, nr int) bool             { return false }

const hasRowAsm = false

func maxAVX2(x *float32, n int) float32                               { panic("unreachable") }
func expSumAVX2(x *float32, n int, sub float32) float32               { panic("unreachable") }
func scaleAVX2(x *float32, n int, s float32)                          { panic("unreachable") }
func sumDevAVX2(x *float32, n int, mean float32, square bool) float32 { panic("unreachable") }
func normAVX2(y, x, gamma, beta *float32, n int, mean, rstd float32)  { panic("unreachable") }

func geluAVX2(x *float32, n int, tanh bool) { panic("unreachable") }

// gemvVariants lists the GEMV kernels this build can run: the Go twins.
func gemvVariants() []gemvVariant {
	return []gemvVariant{{"go", 16, gemvGeneric(16)}, {"go", 32, gemvGeneric(32)}}
}
