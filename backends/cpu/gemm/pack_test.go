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

// TestPackBTransposed checks the layout of B panels packed from a B stored
// transposed (N×K), element by element: full panels (the assembly transpose
// for the first 8*(kc/8) k where there is one) and partial ones, with k
// offsets and padded leading dimensions.
func TestPackBTransposed(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, nr := range []int{16, 32} {
		for _, n := range []int{nr, 2*nr + 3, nr - 1} {
			for _, kc := range []int{1, 7, 8, 9, 64, 131} {
				for _, pc := range []int{0, 3} {
					t.Run(fmt.Sprintf("nr=%d/n=%d/kc=%d/pc=%d", nr, n, kc, pc), func(t *testing.T) {
						ldb := pc + kc + 5
						b := randSlice(r, (n-1)*ldb+pc+kc)
						p := problem{k: pc + kc, n: n, b: matrix{data: b, ld: ldb, trans: true}}
						panels := (n + nr - 1) / nr
						buf := randSlice(r, panels*kc*nr+3)
						guard := append([]float32(nil), buf[panels*kc*nr:]...)
						p.packB(buf, pc, kc, 0, n, nr)
						for q := 0; q < panels; q++ {
							for k := 0; k < kc; k++ {
								for j := 0; j < nr; j++ {
									var w float32
									if col := q*nr + j; col < n {
										w = b[col*ldb+pc+k]
									}
									if got := buf[q*kc*nr+k*nr+j]; got != w {
										t.Fatalf("panel %d (k=%d, col %d) = %v, want %v", q, k, j, got, w)
									}
								}
							}
						}
						for i, g := range buf[panels*kc*nr:] {
							if g != guard[i] {
								t.Fatalf("wrote past the panels at %d", panels*kc*nr+i)
							}
						}
					})
				}
			}
		}
	}
}
