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

// TestTryParallel checks that TryParallel covers [0, n) exactly once when the
// Context is free, and runs nothing (returning false, without deadlocking)
// when it is called from inside one of the Context's own loops.
func TestTryParallel(t *testing.T) {
	ctx := NewContext(2)
	defer ctx.Close()
	const n = 300
	hits := make([]atomic.Int32, n)
	var nestedRan atomic.Int32
	ran, err := ctx.TryParallel(n, 7, func(w, lo, hi int) {
		for i := lo; i < hi; i++ {
			hits[i].Add(1)
		}
		if ok, _ := ctx.TryParallel(5, 1, func(int, int, int) {}); ok {
			nestedRan.Add(1)
		}
	})
	if err != nil || !ran {
		t.Fatalf("TryParallel on a free Context: ran=%v err=%v", ran, err)
	}
	for i := range hits {
		if h := hits[i].Load(); h != 1 {
			t.Fatalf("item %d run %d times", i, h)
		}
	}
	if nestedRan.Load() != 0 {
		t.Errorf("a TryParallel nested in the Context's own loop ran %d times, want 0", nestedRan.Load())
	}
	var nilCtx *Context
	if ok, err := nilCtx.TryParallel(3, 1, func(int, int, int) {}); ok || err != nil {
		t.Errorf("nil Context: ran=%v err=%v, want false, nil", ok, err)
	}
}
