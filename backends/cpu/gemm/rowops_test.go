package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestExpf32(t *testing.T) {
	for x := -87.0; x <= 88; x += 0.01337 {
		got, want := float64(expf32(float32(x))), math.Exp(float64(float32(x)))
		if math.Abs(got-want) > 4e-7*want {
			t.Fatalf("expf32(%v) = %v, want %v", x, got, want)
		}
	}
}

func TestSoftmaxRow(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{1, 2, 7, 8, 9, 15, 16, 17, 31, 64, 97, 1000} {
		for _, scale := range []float64{1, 10, 50} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * scale)
			}
			m := math.Inf(-1)
			for _, v := range x {
				m = math.Max(m, float64(v))
			}
			want := make([]float64, n)
			s := 0.0
			for i, v := range x {
				want[i] = math.Exp(float64(v) - m)
				s += want[i]
			}
			got, full := guarded(n, x)
			SoftmaxRow(got)
			checkGuards(t, full, n)
			for i := range got {
				w := want[i] / s
				if math.Abs(float64(got[i])-w) > 2e-6*w+1e-12 {
					t.Fatalf("n=%d scale=%v: softmax[%d] = %v, want %v", n, scale, i, got[i], w)
				}
			}
		}
	}
}

func TestLayerNormRow(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, n := range []int{1, 3, 8, 9, 16, 33, 768, 1001} {
		for _, affine := range []bool{true, false} {
			x := randSlice(r, n)
			for i := range x {
				x[i] = x[i]*3 + 5 // offset mean: checks the two-pass variance
			}
			var gamma, beta []float32
			if affine {
				gamma, beta = randSlice(r, n), randSlice(r, n)
			}
			mean, v := 0.0, 0.0
			for _, e := range x {
				mean += float64(e)
			}
			mean /= float64(n)
			for _, e := range x {
				v += (float64(e) - mean) * (float64(e) - mean)
			}
			v /= float64(n)
			const eps = 1e-5
			y, full := guarded(n, nil)
			if err := LayerNormRow(y, x, gamma, beta, eps); err != nil {
				t.Fatal(err)
			}
			checkGuards(t, full, n)
			for i := range y {
				w := (float64(x[i]) - mean) / math.Sqrt(v+eps)
				if affine {
					w = w*float64(gamma[i]) + float64(beta[i])
				}
				if math.Abs(float64(y[i])-w) > 2e-5*(1+math.Abs(w)) {
					t.Fatalf("n=%d affine=%v: y[%d] = %v, want %v", n, affine, i, y[i], w)
				}
			}
		}
	}
	if err := LayerNormRow(make([]float32, 3), make([]float32, 4), nil, nil, 1e-5); err == nil {
		t.Error("length mismatch: no error")
	}
}

// TestExpSumAgainstTwin compares the assembly exp with its Go twin, NaN and
// out-of-range inputs included.
func TestExpSumAgainstTwin(t *testing.T) {
	if !hasRowAsm {
		t.Skip("no assembly here")
	}
	r := rand.New(rand.NewPCG(51, 52))
	x := make([]float32, 256)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 40)
	}
	x[3], x[10], x[11] = float32(math.NaN()), 1e6, -1e6
	got, full := guarded(len(x), x)
	s := expSumAVX2(&got[0], len(x), 0.5)
	checkGuards(t, full, len(x))
	for i, v := range x {
		w := expf32(v - 0.5)
		if math.IsNaN(float64(w)) != math.IsNaN(float64(got[i])) || math.Abs(float64(got[i]-w)) > 1e-6*float64(w) {
			t.Fatalf("exp(%v): asm %v, twin %v", v-0.5, got[i], w)
		}
	}
	if !math.IsNaN(float64(s)) {
		t.Errorf("sum with a NaN = %v, want NaN", s)
	}
}

// TestGELU checks the vectorized GELU (both forms) against float64 and the Go
// twins, on lengths around the vector width.
func TestGELU(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	for _, n := range []int{1, 7, 8, 9, 16, 17, 100, 203} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 4)
			if n > 100 {
				// Large magnitudes (a GEMM's outputs at K = 512): where
				// the erf form caps |x|/√2 at 9 and the tanh form its
				// exponent at ±80.
				x[i] = float32(r.Float64()*240 - 120)
			}
		}
		x[0] = -9
		if n > 2 {
			x[1], x[2] = 9, 0
		}
		if n > 100 {
			copy(x[3:], []float32{-12.72, 12.72, -12.74, -13, -9.6, 9.6, -20, 20, -1e4, 1e4, -3e38, 3e38})
		}
		for _, act := range []Activation{ActGELU, ActGELUTanh} {
			got, full := guarded(n, x)
			applyAct(act, got)
			checkGuards(t, full, n)
			for i, v := range x {
				want := refAct(act, float64(v))
				twin := geluErf32(v)
				if act == ActGELUTanh {
					twin = geluTanh32(v)
				}
				tol := 3e-7*math.Max(1, math.Abs(float64(v))) + 2e-6*math.Abs(want)
				if math.Abs(float64(got[i])-want) > tol || math.Abs(float64(twin)-want) > tol {
					t.Fatalf("%v(%v): asm %v, twin %v, want %v", act, v, got[i], twin, want)
				}
			}
		}
	}
}
