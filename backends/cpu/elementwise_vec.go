package cpu

import (
	"math"

	"github.com/lightiam/lightos/engine/tensor"
)

// reluGo is the reference loop of reluAVX2: z[i] = max(x[i], 0).
func reluGo(z, x []float32) {
	x = x[:len(z)]
	for i, v := range x {
		z[i] = max(v, 0)
	}
}

// halfToFloatGo is the reference loop of halfToFloatF16C.
func halfToFloatGo(z []float32, x []uint16) {
	x = x[:len(z)]
	for i, h := range x {
		z[i] = tensor.Float16ToFloat32(h)
	}
}

// floatToHalfGo is the reference loop of floatToHalfF16C.
func floatToHalfGo(z []uint16, x []float32) {
	x = x[:len(z)]
	for i, f := range x {
		z[i] = tensor.Float32ToFloat16(f)
	}
}

// clampAffineGo is the reference loop of clampAffineAVX2.
func clampAffineGo(z, x []float32, a, b, lo, hi float32, mulx bool) {
	x = x[:len(z)]
	for i, v := range x {
		t := a*v + b
		if t != t {
			z[i] = t
			continue
		}
		t = min(max(t, lo), hi)
		if mulx {
			t *= v
		}
		z[i] = t
	}
}

// leakyReluGo is the reference loop of leakyReluAVX2.
func leakyReluGo(z, x []float32, alpha float32) {
	x = x[:len(z)]
	for i, v := range x {
		if math.Signbit(float64(v)) && v == v {
			v *= alpha
		}
		z[i] = v
	}
}
