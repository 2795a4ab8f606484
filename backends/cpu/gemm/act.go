package gemm

import "math"

// applyAct applies a to x in place (ReLU is normally fused into the kernels;
// it is here for completeness). GELU runs in assembly on the multiple-of-8
// prefix where AVX2+FMA exist, and through the Go twins below elsewhere.
func applyAct(a Activation, x []float32) {
	switch a {
	case ActReLU:
		for i, v := range x {
			if v < 0 {
				x[i] = 0
			}
		}
	case ActGELU, ActGELUTanh:
		if n8 := len(x) &^ 7; n8 > 0 && hasRowAsm {
			geluAVX2(&x[0], n8, a == ActGELUTanh)
			x = x[n8:]
		}
		if a == ActGELU {
			for i, v := range x {
				x[i] = geluErf32(v)
			}
		} else {
			for i, v := range x {
				x[i] = geluTanh32(v)
			}
		}
	}
}

// geluErf32 is the Go twin of geluAVX2's erf form: x·(1+erf(x/√2))/2 with
// erfc(u) ≈ t·(a1+t·(a2+t·(a3+t·(a4+t·a5))))·exp(-u²), t = 1/(1+p·u), u ≥ 0
// (Abramowitz and Stegun 7.1.26, |error| ≤ 1.5e-7), so that negative x, where
// 1+erf is small, needs no cancellation. u is capped at 9 (erfc(9) ≈ 4e-37):
// for x below -12.7 the result is x·2e-37 instead of a subnormal or zero.
func geluErf32(x float32) float32 {
	u := float32(math.Abs(float64(x))) * 0.70710678118654752
	u = min(u, 9) // as geluAVX2: keeps exp(-u²)·t·poly out of the subnormals
	t := 1 / (1 + 0.3275911*u)
	q := float32(1.061405429)
	q = q*t - 1.453152027
	q = q*t + 1.421413741
	q = q*t - 0.284496736
	q = q*t + 0.254829592
	q *= t * expf32(-u*u)
	if x >= 0 {
		q = 2 - q
	}
	return 0.5 * x * q
}

// geluTanh32 is the Go twin of geluAVX2's tanh form:
// 0.5·x·(1+tanh(v)) = x / (1 + exp(-2v)), v = √(2/π)·(x+0.044715·x³), with
// -2v kept above -80 (below, exp(-2v) is under 2e-35 next to 1 and would
// become subnormal).
func geluTanh32(x float32) float32 {
	w := -2 * 0.7978845608028654 * (x + 0.044715*x*x*x)
	w = max(w, -80) // as geluAVX2: no subnormal exp
	return x / (1 + expf32(w))
}
