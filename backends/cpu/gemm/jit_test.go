package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// TestJITShares runs the products whose operands are packed inside the
// compute shares (dispatchJIT) against float64, on every kernel and several
// thread counts: few rows against a packed B (column split, A packed by row
// blocks) and many rows with both operands fed (block grid, A and B packed by
// blocks; B stored as K×N or N×K), at sizes that leave partial panels and
// blocks.
func TestJITShares(t *testing.T) {
	cases := []struct {
		m, n, k int
		packed  bool
	}{
		{2, 600, 300, true}, {7, 515, 100, true}, {61, 129, 300, true}, {128, 512, 97, true},
		{100, 1000, 33, true},
		{50, 333, 200, false}, {97, 300, 129, false}, {300, 515, 41, false}, {512, 130, 300, false},
		{1000, 200, 9, false},
	}
	r := rand.New(rand.NewPCG(21, 22))
	jitRuns, all := 0, 0
	for _, name := range Kernels() {
		for _, threads := range []int{2, 3, 4} {
			ctx, err := NewContextKernel(threads, name)
			if err != nil {
				t.Fatal(err)
			}
			for ci, tc := range cases {
				all++
				t.Run(fmt.Sprintf("%s/threads=%d/%dx%dx%d/packed=%v", name, threads, tc.m, tc.n, tc.k, tc.packed), func(t *testing.T) {
					// Half of the fed cases have B stored transposed (N×K).
					transB := !tc.packed && ci%2 == 1
					br, bc := tc.k, tc.n
					if transB {
						br, bc = tc.n, tc.k
					}
					lda, ldb, ldc := tc.k+ci%3, bc+ci%2, tc.n+1
					p := Params{M: tc.m, N: tc.n, K: tc.k, A: randSlice(r, needLen(tc.m, tc.k, lda)), LDA: lda,
						B: randSlice(r, needLen(br, bc, ldb)), LDB: ldb, TransB: transB, LDC: ldc,
						Bias: randSlice(r, tc.n), Act: Activation(ci % 4), Beta: float32(ci % 2)}
					nc := needLen(tc.m, tc.n, ldc)
					c0 := randSlice(r, nc)
					want, bound := refGemm(p, c0)
					c, full := guarded(nc, c0)
					p.C = c
					if tc.packed {
						pb, err := PackB(ctx, tc.k, tc.n, p.B, ldb, false)
						if err != nil {
							t.Fatal(err)
						}
						p.B, p.LDB, p.PackedB = nil, 0, pb
					}
					// Call 0 runs the product, call 1 again (reusing flags
					// and buffers); call 2 reruns call 1's shares one by one
					// with every block marked as being packed by another
					// share, so that each share packs private copies.
					for rep := 0; rep < 3; rep++ {
						if rep == 2 && ctx.cur.fn == nil {
							break // not a JIT shape for this kernel and thread count
						}
						copy(c, c0)
						if rep < 2 {
							if err := Sgemm(ctx, p); err != nil {
								t.Fatal(err)
							}
						} else {
							jitRuns++
							ctx.jit.aPacked.Store(0)
							for _, fl := range [][]atomic.Uint32{ctx.jit.a, ctx.jit.b} {
								for i := range fl {
									fl[i].Store(blockPacking)
								}
							}
							for i := 0; i < ctx.cur.parts; i++ {
								ctx.cur.fn(i%threads, i)
							}
						}
						checkGuards(t, full, nc)
						for i := 0; i < tc.m; i++ {
							for j := 0; j < tc.n; j++ {
								at := i*ldc + j
								if !(math.Abs(float64(c[at])-want[at]) <= bound[at]) {
									t.Fatalf("call %d: C[%d][%d] = %v, want %v (bound %v)", rep, i, j, c[at], want[at], bound[at])
								}
							}
						}
					}
				})
			}
			ctx.Close()
		}
	}
	if jitRuns < all/2 {
		t.Errorf("only %d of %d cases took the JIT path", jitRuns, all)
	}
}
