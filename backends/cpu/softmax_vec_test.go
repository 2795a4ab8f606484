package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestExpNeg32 checks the Go exponential against math.Exp over its whole range.
func TestExpNeg32(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 3))
	for i := 0; i < 100000; i++ {
		v := float32(-r.Float64() * 87)
		if i%10 == 0 {
			v = float32(-r.Float64() * 2)
		}
		got, want := float64(expNeg32(v)), math.Exp(float64(v))
		if math.Abs(got-want) > 4e-7*want {
			t.Fatalf("expNeg32(%v) = %v, want %v", v, got, want)
		}
	}
	if v := expNeg32(float32(math.NaN())); v == v {
		t.Errorf("expNeg32(NaN) = %v", v)
	}
	if v := expNeg32(float32(math.Inf(-1))); v != expNeg32(expMin) {
		t.Errorf("expNeg32(-Inf) = %v, want the clamp value", v)
	}
}

// TestVectorHelpersMatchTwins runs the dispatched helpers (assembly where the CPU
// has AVX2+FMA) against the Go reference loops, on sizes around the vector width,
// with NaN guard regions around the output to catch stray writes.
func TestVectorHelpersMatchTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	const guard = 9
	for n := 0; n <= 41; n++ {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 20)
		}
		m := float32(math.Inf(-1))
		for _, v := range x {
			m = max(m, v)
		}
		full := make([]float32, n+2*guard)
		for i := range full {
			full[i] = float32(math.NaN())
		}
		y := full[guard : guard+n]
		want := make([]float32, n)
		ws := expShiftSumGo(x, want, m)
		gs := expShiftSum(x, y, m)
		if math.Abs(float64(gs-ws)) > 1e-6*float64(ws)+1e-30 {
			t.Fatalf("n=%d: sum %v, twin %v", n, gs, ws)
		}
		for i := range want {
			if math.Abs(float64(y[i]-want[i])) > 2e-7*float64(want[i]) {
				t.Fatalf("n=%d: y[%d] = %v, twin %v", n, i, y[i], want[i])
			}
		}
		scale(y, 0.5)
		scaleGo(want, 0.5)
		for i := range want {
			if math.Abs(float64(y[i]-want[i])) > 2e-7*float64(want[i]) {
				t.Fatalf("n=%d: scaled y[%d] = %v, twin %v", n, i, y[i], want[i])
			}
		}
		for i := 0; i < guard; i++ {
			if !math.IsNaN(float64(full[i])) || !math.IsNaN(float64(full[guard+n+i])) {
				t.Fatalf("n=%d: write outside y", n)
			}
		}
	}
	// A NaN input gives a NaN output in its lane, not a clamped value.
	x := []float32{0, 1, 2, float32(math.NaN()), 4, 5, 6, 7}
	y := make([]float32, 8)
	expShiftSum(x, y, 7)
	if y[3] == y[3] {
		t.Errorf("NaN input gave %v", y[3])
	}
}

// TestNormHelpersMatchTwins checks sum, sqDiffSum and normAffine against their Go
// loops on sizes around the vector widths, with guard regions around the output.
func TestNormHelpersMatchTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 3))
	const guard = 9
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64()*3 + 1)
		}
		return s
	}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 767, 768, 1000} {
		x, g, b := rnd(n), rnd(n), rnd(n)
		var abs float32
		for _, v := range x {
			abs += max(v, -v)
		}
		if got, want := sum(x), sumGo(x); math.Abs(float64(got-want)) > 1e-5*float64(abs)+1e-6 {
			t.Fatalf("n=%d: sum %v, twin %v", n, got, want)
		}
		m := float32(0.7)
		if got, want := sqDiffSum(x, m), sqDiffSumGo(x, m); math.Abs(float64(got-want)) > 1e-5*float64(want)+1e-6 {
			t.Fatalf("n=%d: sqDiffSum %v, twin %v", n, got, want)
		}
		full := make([]float32, n+2*guard)
		for i := range full {
			full[i] = float32(math.NaN())
		}
		y, want := full[guard:guard+n], make([]float32, n)
		normAffine(x, y, g, b, m, 1.3)
		normAffineGo(x, want, g, b, m, 1.3)
		for i := range want {
			if math.Abs(float64(y[i]-want[i])) > 1e-6*(math.Abs(float64(want[i]))+1) {
				t.Fatalf("n=%d: y[%d] = %v, twin %v", n, i, y[i], want[i])
			}
		}
		for i := 0; i < guard; i++ {
			if !math.IsNaN(float64(full[i])) || !math.IsNaN(float64(full[guard+n+i])) {
				t.Fatalf("n=%d: write outside y", n)
			}
		}
	}
}

// TestRowMaxMatchesTwin checks rowMax against its Go loop around the vector widths.
func TestRowMaxMatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 3))
	for n := 1; n <= 70; n++ {
		for rep := 0; rep < 5; rep++ {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64()*10 - 50)
			}
			x[r.IntN(n)] = float32(r.NormFloat64() * 100)
			if got, want := rowMax(x), rowMaxGo(x); got != want {
				t.Fatalf("n=%d: rowMax %v, twin %v", n, got, want)
			}
		}
	}
}

// TestScaleShiftMatchesTwin checks scaleShift against its Go loop, with guards.
func TestScaleShiftMatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 3))
	const guard = 9
	for n := 0; n <= 50; n++ {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		full := make([]float32, n+2*guard)
		for i := range full {
			full[i] = float32(math.NaN())
		}
		y, want := full[guard:guard+n], make([]float32, n)
		scaleShift(x, y, 1.7, -0.3)
		scaleShiftGo(x, want, 1.7, -0.3)
		for i := range want {
			if math.Abs(float64(y[i]-want[i])) > 1e-6*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("n=%d: y[%d] = %v, twin %v", n, i, y[i], want[i])
			}
		}
		for i := 0; i < guard; i++ {
			if !math.IsNaN(float64(full[i])) || !math.IsNaN(float64(full[guard+n+i])) {
				t.Fatalf("n=%d: write outside y", n)
			}
		}
	}
}
