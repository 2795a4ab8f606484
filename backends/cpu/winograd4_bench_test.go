package cpu

import (
	"testing"

	"github.com/lightiam/lightos/backends/cpu/gemm"
)

// BenchmarkWino4In times F(4x4, 3x3)'s 1-D input transform on 64 channels (one
// call per op, data in L1), alone and right after an AVX-512 GEMM (whose upper
// register state the transform's code then runs with).
func BenchmarkWino4In(b *testing.B) {
	buf := make([]float32, 12*64)
	var src, dst [6][]float32
	for k := range src {
		src[k], dst[k] = buf[k*64:(k+1)*64], buf[(6+k)*64:(7+k)*64]
	}
	b.Run("alone", func(b *testing.B) {
		for b.Loop() {
			wino4In(&dst, &src, 64)
		}
	})
	b.Run("after-gemm", func(b *testing.B) {
		ctx := gemm.NewContext(1)
		a, w, c := make([]float32, 12*64), make([]float32, 64*64), make([]float32, 12*64)
		for b.Loop() {
			if err := gemm.Sgemm(ctx, gemm.Params{M: 12, N: 64, K: 64, A: a, LDA: 64, B: w, LDB: 64, C: c, LDC: 64}); err != nil {
				b.Fatal(err)
			}
			for range 16 {
				wino4In(&dst, &src, 64)
			}
		}
	})
}
