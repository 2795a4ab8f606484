package gemm

import (
	"sync/atomic"
	"testing"
)

// TestParallel checks that Context.Parallel covers [0, n) exactly once, with
// thread indices below Threads(), for several sizes and grains, and that it
// reports a closed Context.
func TestParallel(t *testing.T) {
	for _, threads := range []int{1, 2, 3} {
		ctx := NewContext(threads)
		for _, n := range []int{0, 1, 7, 100, 1000} {
			for _, grain := range []int{0, 1, 3, 64} {
				hits := make([]atomic.Int32, n)
				var badW atomic.Int32
				if err := ctx.Parallel(n, grain, func(w, lo, hi int) {
					if w < 0 || w >= threads {
						badW.Add(1)
					}
					for i := lo; i < hi; i++ {
						hits[i].Add(1)
					}
				}); err != nil {
					t.Fatal(err)
				}
				if badW.Load() != 0 {
					t.Errorf("threads=%d n=%d grain=%d: thread index out of range", threads, n, grain)
				}
				for i := range hits {
					if h := hits[i].Load(); h != 1 {
						t.Fatalf("threads=%d n=%d grain=%d: item %d run %d times", threads, n, grain, i, h)
					}
				}
			}
		}
		ctx.Close()
		if err := ctx.Parallel(10, 1, func(w, lo, hi int) {}); err != ErrClosed {
			t.Errorf("threads=%d: Parallel after Close returned %v, want ErrClosed", threads, err)
		}
	}
}
