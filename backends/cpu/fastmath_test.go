package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFastMath checks the float32 fast paths against package math in float64, on
// random values over each function's interesting range and on special values.
func TestFastMath(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-6, -1e-6, 0.039, 0.041, 1, -1, 20.5, -20.5,
		87, 88.7, 89, -87, -103, -104, -110, 1e30, -1e30, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	cases := []struct {
		name   string
		fast   func(float32) float32
		ref    func(float64) float64
		lo, hi float64
		rel    float64 // allowed |fast - ref| / (|ref| + abs)
		abs    float64
	}{
		{"exp", expf, math.Exp, -110, 90, 1.2e-7, 1e-45},
		{"sigmoid", sigmoidf, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, -120, 120, 1.2e-7, 1e-45},
		{"tanh", tanhf, math.Tanh, -25, 25, 1.2e-7, 1e-45},
		{"erf", erff, math.Erf, -6, 6, 0, 2e-7},
		{"gelu", geluf, func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }, -10, 10, 1.2e-7, 1e-6},
		{"gelu_tanh", geluTanhf, func(x float64) float64 {
			// 0.5·x·(1 + tanh(u)) written as x·sigmoid(2u): the float64 reference itself
			// would lose digits to cancellation for negative x.
			u := math.Sqrt(2/math.Pi) * (x + 0.044715*x*x*x)
			if math.IsInf(x, -1) {
				return math.NaN()
			}
			return x / (1 + math.Exp(-2*u))
		}, -10, 10, 2.4e-7, 1e-38},
		{"silu", siluf, func(x float64) float64 { return x / (1 + math.Exp(-x)) }, -100, 100, 2.4e-7, 1e-38},
	}
	for _, c := range cases {
		xs := append([]float32{}, special...)
		for i := 0; i < 20000; i++ {
			xs = append(xs, float32(c.lo+(c.hi-c.lo)*r.Float64()))
		}
		for _, x := range xs {
			got := float64(c.fast(x))
			want := float64(float32(c.ref(float64(x))))
			if math.IsNaN(want) {
				if !math.IsNaN(got) {
					t.Fatalf("%s(%v) = %v, want NaN", c.name, x, got)
				}
				continue
			}
			if math.IsInf(want, 0) || math.IsInf(got, 0) {
				if got != want {
					t.Fatalf("%s(%v) = %v, want %v", c.name, x, got, want)
				}
				continue
			}
			if math.Abs(got-want) > c.rel*math.Abs(want)+c.abs {
				t.Fatalf("%s(%v) = %v, want %v (error %.3g)", c.name, x, got, want, math.Abs(got-want))
			}
		}
	}
}
