package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPackRowsA checks the A packing (the 6- and 12-row fast paths, the
// assembly transpose and its Go tail, the generic scatter for edge panels)
// element by element against the layout dst[k*mr+r] = a[r*lda+k], rows past
// the edge zero.
func TestPackRowsA(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, mr := range []int{6, 12} {
		for _, rows := range []int{mr, mr - 1, 1} {
			for _, kc := range []int{1, 7, 8, 9, 16, 23, 64, 129} {
				for _, extra := range []int{0, 5} {
					t.Run(fmt.Sprintf("mr=%d/rows=%d/kc=%d/lda=+%d", mr, rows, kc, extra), func(t *testing.T) {
						lda := kc + extra
						a := randSlice(r, (rows-1)*lda+kc)
						dst := randSlice(r, mr*kc+3)
						guard := dst[mr*kc:]
						want := append([]float32(nil), guard...)
						packRowsA(dst, a, lda, rows, kc, mr)
						for k := 0; k < kc; k++ {
							for i := 0; i < mr; i++ {
								var w float32
								if i < rows {
									w = a[i*lda+k]
								}
								if got := dst[k*mr+i]; got != w {
									t.Fatalf("dst[k=%d, row %d] = %v, want %v", k, i, got, w)
								}
							}
						}
						for i, g := range guard {
							if g != want[i] {
								t.Fatalf("wrote past the panel at %d", mr*kc+i)
							}
						}
					})
				}
			}
		}
	}
}
