package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestVectorHelpers checks the assembly helpers against their Go twins and a
// float64 reference, for lengths around the vector widths, with NaN guards.
func TestVectorHelpers(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 257} {
		x0 := randSlice(r, n)
		x0[n/2] = float32(math.NaN())
		bias := randSlice(r, n)
		s := float32(r.NormFloat64())
		for flags := 0; flags < 16; flags++ {
			if flags&flagAccum != 0 || flags&flagColBias != 0 && flags&flagRowBias != 0 {
				continue
			}
			got, full := guarded(n, x0)
			twin := append([]float32(nil), x0...)
			biasAct(&got[0], &bias[0], s, n, flags)
			biasActGo(&twin[0], &bias[0], s, n, flags)
			checkGuards(t, full, n)
			for i := range got {
				v := float64(x0[i])
				if flags&flagColBias != 0 {
					v += float64(bias[i])
				}
				if flags&flagRowBias != 0 {
					v += float64(s)
				}
				if flags&flagReLU != 0 && v < 0 {
					v = 0
				}
				if g := float64(got[i]); !(math.Abs(g-v) <= 1e-6*(1+math.Abs(v))) && !(math.IsNaN(g) && math.IsNaN(v)) {
					t.Fatalf("biasAct n=%d flags=%d: x[%d] = %v, want %v", n, flags, i, g, v)
				}
				if !(got[i] == twin[i] || math.IsNaN(float64(got[i])) && math.IsNaN(float64(twin[i]))) {
					t.Fatalf("biasAct n=%d flags=%d: x[%d] asm %v, twin %v", n, flags, i, got[i], twin[i])
				}
			}
		}
		y0 := randSlice(r, n)
		got, full := guarded(n, y0)
		Axpy(s, x0, got)
		checkGuards(t, full, n)
		for i := range got {
			want := float64(y0[i]) + float64(s)*float64(x0[i])
			if g := float64(got[i]); !(math.Abs(g-want) <= 1e-6*(1+math.Abs(want))) && !(math.IsNaN(g) && math.IsNaN(want)) {
				t.Fatalf("axpy n=%d: y[%d] = %v, want %v", n, i, g, want)
			}
		}
	}
}

func TestAddAct(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	for _, n := range []int{0, 1, 9, 33} {
		a, b := randSlice(r, n), randSlice(r, n)
		dst, full := guarded(n, nil)
		AddAct(dst, a, b, ActReLU)
		checkGuards(t, full, n)
		inPlace := append([]float32(nil), a...)
		AddAct(inPlace, inPlace, b, ActReLU)
		for i := range dst {
			want := float64(max(a[i]+b[i], 0))
			if float64(dst[i]) != want || float64(inPlace[i]) != want {
				t.Fatalf("n=%d: AddAct[%d] = %v (in place %v), want %v", n, i, dst[i], inPlace[i], want)
			}
		}
	}
}
