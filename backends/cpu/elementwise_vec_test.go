package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestArithF32MatchesTwin compares the vectorized float32 loops with the Go loops
// bit for bit, for sizes around the vector widths, with NaN and infinity inputs and
// guard elements after the output that must stay untouched.
func TestArithF32MatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(81, 82))
	val := func() float32 {
		switch r.IntN(20) {
		case 0:
			return float32(math.NaN())
		case 1:
			return float32(math.Inf(1 - 2*r.IntN(2)))
		case 2:
			return 0
		}
		return float32(r.NormFloat64() * 10)
	}
	const guard = 5
	sizes := []int{0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 63, 64, 65, 100, 257}
	same := func(a, b float32) bool { return a == b || (a != a && b != b) }
	for _, n := range sizes {
		x, y := make([]float32, n+guard), make([]float32, n+guard)
		for i := range x {
			x[i], y[i] = val(), val()
		}
		for _, op := range []arith{aAdd, aSub, aMul, aDiv, aMax, aMin} {
			for _, mode := range [][2]bool{{true, true}, {true, false}, {false, true}} {
				got, want := make([]float32, n+guard), make([]float32, n)
				for i := n; i < n+guard; i++ {
					got[i] = 12345
				}
				xs, ys := x[:n], y[:n]
				switch {
				case mode[0] && mode[1]:
					arithVV(op, want, xs, ys)
				case mode[0]:
					arithVS(op, want, xs, y[0])
				default:
					arithSV(op, want, x[0], ys)
				}
				xa, ya := x[:max(n, 1)], y[:max(n, 1)]
				if !arithF32(op, got[:n], xa, ya, mode[0], mode[1]) {
					if vectorized && n >= 8 && op <= aDiv {
						t.Fatalf("op %d mode %v n=%d: the vector loop was not used", op, mode, n)
					}
					continue // no vector loop for this case: the caller runs the Go loop
				}
				for i := 0; i < n; i++ {
					if !same(got[i], want[i]) {
						t.Fatalf("op %d mode %v n=%d: element %d = %v, want %v (x=%v y=%v)", op, mode, n, i, got[i], want[i], x[i], y[i])
					}
				}
				for i := n; i < n+guard; i++ {
					if got[i] != 12345 {
						t.Fatalf("op %d mode %v n=%d: wrote past the end at %d", op, mode, n, i)
					}
				}
			}
		}
		got, want := make([]float32, n+guard), make([]float32, n)
		for i := n; i < n+guard; i++ {
			got[i] = 12345
		}
		reluF32(got[:n], x[:n])
		reluGo(want, x[:n])
		for i := 0; i < n; i++ {
			if !same(got[i], want[i]) {
				t.Fatalf("relu n=%d: element %d = %v, want %v", n, i, got[i], want[i])
			}
		}
		for i := n; i < n+guard; i++ {
			if got[i] != 12345 {
				t.Fatalf("relu n=%d: wrote past the end", n)
			}
		}
	}
}
