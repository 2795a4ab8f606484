package gemm

import "math"

// applyAct applies a (not ReLU: the kernels fuse that) to x in place.
func applyAct(a Activation, x []float32) {
	switch a {
	case ActReLU:
		for i, v := range x {
			if v < 0 {
				x[i] = 0
			}
		}
	case ActGELU:
		for i, v := range x {
			x[i] = geluErf(v)
		}
	case ActGELUTanh:
		for i, v := range x {
			x[i] = geluTanh(v)
		}
	}
}

// geluErf is x·Φ(x), computed in float64 (float32 exactness).
func geluErf(x float32) float32 {
	v := float64(x)
	return float32(0.5 * v * (1 + math.Erf(v*(1/math.Sqrt2))))
}

// geluTanh is the tanh approximation of GELU, computed in float64.
func geluTanh(x float32) float32 {
	v := float64(x)
	const c = 0.7978845608028654 // √(2/π)
	return float32(0.5 * v * (1 + math.Tanh(c*(v+0.044715*v*v*v))))
}
