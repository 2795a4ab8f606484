package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxWindowMatchesGo checks maxWindows (the AVX2 loop where present) against
// maxWindowsGo on seeded random rows: lengths around the 8- and 32-lane widths, 1 to 5
// taps, strides longer and shorter than the row, 1 to 3 windows, NaN taps, and guard
// cells after the output that must stay untouched.
func TestMaxWindowMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	nan := float32(math.NaN())
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 31, 32, 33, 40, 63, 64, 65, 100} {
		for k := 1; k <= 5; k++ {
			for _, step := range []int{n, n + 3, max(1, n/2)} {
				count := 1 + r.IntN(3)
				xstride := step + r.IntN(9)
				x := make([]float32, (count-1)*xstride+(k-1)*step+n)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				if n > 0 && r.IntN(3) == 0 {
					x[r.IntN(len(x))] = nan
				}
				got := make([]float32, count*n+4)
				for i := range got {
					got[i] = -7
				}
				want := make([]float32, count*n)
				maxWindows(got, x, n, k, step, count, xstride)
				maxWindowsGo(want, x, n, k, step, count, xstride)
				for i := range want {
					g, w := got[i], want[i]
					if g != w && !(g != g && w != w) {
						t.Fatalf("n %d k %d step %d: z[%d] = %v, want %v", n, k, step, i, g, w)
					}
				}
				for i := count * n; i < count*n+4; i++ {
					if got[i] != -7 {
						t.Fatalf("n %d k %d step %d: guard z[%d] overwritten with %v", n, k, step, i, got[i])
					}
				}
			}
		}
	}
}
