//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

// elemAVX2 selects the AVX2 elementwise loops (elementwise_amd64.s).
var elemAVX2 = cpu.X86.HasAVX2

// The AVX2 loops process n elements, n a multiple of 8 (the twins in
// elementwise_vec.go define them and handle the rest).

//go:noescape
func addVVAVX2(z, x, y *float32, n int)

//go:noescape
func subVVAVX2(z, x, y *float32, n int)

//go:noescape
func mulVVAVX2(z, x, y *float32, n int)

//go:noescape
func divVVAVX2(z, x, y *float32, n int)

//go:noescape
func addVSAVX2(z, x *float32, n int, s float32)

//go:noescape
func subVSAVX2(z, x *float32, n int, s float32)

//go:noescape
func mulVSAVX2(z, x *float32, n int, s float32)

//go:noescape
func divVSAVX2(z, x *float32, n int, s float32)

//go:noescape
func subSVAVX2(z, x *float32, n int, s float32)

//go:noescape
func divSVAVX2(z, x *float32, n int, s float32)

//go:noescape
func reluAVX2(z, x *float32, n int)

// The AVX2 loops by operator: vector-vector, vector-scalar and scalar-vector.
var (
	vvAVX2 = [...]func(z, x, y *float32, n int){aAdd: addVVAVX2, aSub: subVVAVX2, aMul: mulVVAVX2, aDiv: divVVAVX2}
	vsAVX2 = [...]func(z, x *float32, n int, s float32){aAdd: addVSAVX2, aSub: subVSAVX2, aMul: mulVSAVX2, aDiv: divVSAVX2}
	svAVX2 = [...]func(z, x *float32, n int, s float32){aAdd: addVSAVX2, aSub: subSVAVX2, aMul: mulVSAVX2, aDiv: divSVAVX2}
)

// arithF32 runs z = x op y for the ops with AVX2 loops and reports whether it did;
// sx, sy say whether x and y are vectors (else x[0] or y[0] is a scalar).
func arithF32(op arith, z, x, y []float32, sx, sy bool) bool {
	n := len(z) &^ 7
	if !elemAVX2 || n == 0 {
		return false
	}
	switch {
	case sx && sy:
		f := &vvAVX2
		if int(op) >= len(f) || f[op] == nil {
			return false
		}
		f[op](&z[0], &x[0], &y[0], n)
		arithVV(op, z[n:], x[n:len(z)], y[n:len(z)])
	case sx:
		f := &vsAVX2
		if int(op) >= len(f) || f[op] == nil {
			return false
		}
		f[op](&z[0], &x[0], n, y[0])
		arithVS(op, z[n:], x[n:len(z)], y[0])
	case sy:
		f := &svAVX2
		if int(op) >= len(f) || f[op] == nil {
			return false
		}
		f[op](&z[0], &y[0], n, x[0])
		arithSV(op, z[n:], x[0], y[n:len(z)])
	default:
		return false
	}
	return true
}

// reluF32 is max(x, 0) with the AVX2 loop where available.
func reluF32(z, x []float32) {
	n := len(z) &^ 7
	if elemAVX2 && n > 0 {
		reluAVX2(&z[0], &x[0], n)
	}
	reluGo(z[n:], x[n:len(z)])
}

// vectorized reports whether the AVX2 loops run (for tests).
var vectorized = elemAVX2

//go:noescape
func sigmoidAVX2(z, x *float32, n int)

//go:noescape
func siluAVX2(z, x *float32, n int)

//go:noescape
func tanhAVX2(z, x *float32, n int)

//go:noescape
func expAVX2(z, x *float32, n int) int

//go:noescape
func erfAVX2(z, x *float32, n int)

// vecUnaryF32 returns the vectorized float32 loop for op (nil when there is none):
// the AVX2 loop on the multiple-of-8 prefix, the Go fast path on the rest.
func vecUnaryF32(op string) func(z, x []float32) {
	if !elemAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	var asm func(z, x *float32, n int)
	var tail func(float32) float32
	switch op {
	case "Sigmoid":
		asm, tail = sigmoidAVX2, sigmoidf
	case "Silu":
		asm, tail = siluAVX2, siluf
	case "Tanh":
		asm, tail = tanhAVX2, tanhf
	case "Erf":
		asm, tail = erfAVX2, erff
	case "Exp":
		// The vector loop clamps to [-87.3, 88.376]; it reports when an input was
		// outside, and those (rare) elements are redone by the scalar path.
		return func(z, x []float32) {
			x = x[:len(z)]
			n := len(z) &^ 7
			if n > 0 && expAVX2(&z[0], &x[0], n) != 0 {
				for i, v := range x[:n] {
					if v < -87.3 || v > 88.376 {
						z[i] = expf(v)
					}
				}
			}
			for i := n; i < len(z); i++ {
				z[i] = expf(x[i])
			}
		}
	default:
		return nil
	}
	return func(z, x []float32) {
		x = x[:len(z)]
		n := len(z) &^ 7
		if n > 0 {
			asm(&z[0], &x[0], n)
		}
		for i := n; i < len(z); i++ {
			z[i] = tail(x[i])
		}
	}
}

// hasF16C selects the hardware float16 conversions.
var hasF16C = cpu.X86.HasF16C && cpu.X86.HasAVX

//go:noescape
func halfToFloatF16C(z *float32, x *uint16, n int)

//go:noescape
func floatToHalfF16C(z *uint16, x *float32, n int)

// halfToFloat converts float16 bits to float32 (exactly; F16C where present).
func halfToFloat(z []float32, x []uint16) {
	x = x[:len(z)]
	n := 0
	if hasF16C {
		n = len(z) &^ 7
		if n > 0 {
			halfToFloatF16C(&z[0], &x[0], n)
		}
	}
	halfToFloatGo(z[n:], x[n:])
}

// floatToHalf rounds float32 to float16 bits, to nearest even (F16C where present).
func floatToHalf(z []uint16, x []float32) {
	x = x[:len(z)]
	n := 0
	if hasF16C {
		n = len(z) &^ 7
		if n > 0 {
			floatToHalfF16C(&z[0], &x[0], n)
		}
	}
	floatToHalfGo(z[n:], x[n:])
}

//go:noescape
func clampAffineAVX2(z, x *float32, n int, a, b, lo, hi float32, mulx int)

// clampAffineF32 computes z = min(max(a·x + b, lo), hi), times x when mulx, with the
// AVX2 loop where available (Clip, HardSigmoid, HardSwish).
func clampAffineF32(z, x []float32, a, b, lo, hi float32, mulx bool) {
	x = x[:len(z)]
	n := 0
	if elemAVX2 && cpu.X86.HasFMA {
		n = len(z) &^ 7
		if n > 0 {
			m := 0
			if mulx {
				m = 1
			}
			clampAffineAVX2(&z[0], &x[0], n, a, b, lo, hi, m)
		}
	}
	clampAffineGo(z[n:], x[n:], a, b, lo, hi, mulx)
}

//go:noescape
func transpose8x8AVX2(dst *uint32, ldd int, src *uint32, lds int)

// transpose8x8 sets dst[m*ldd+j] = src[j*lds+m] for m, j < 8 and reports whether it
// ran (AVX2 present); the slices start at the blocks' first elements.
func transpose8x8(dst []uint32, ldd int, src []uint32, lds int) bool {
	if !elemAVX2 {
		return false
	}
	_ = dst[7*ldd+7]
	_ = src[7*lds+7]
	transpose8x8AVX2(&dst[0], ldd, &src[0], lds)
	return true
}

//go:noescape
func leakyReluAVX2(z, x *float32, n int, alpha float32)

// leakyReluF32 is LeakyRelu with the AVX2 loop where available.
func leakyReluF32(z, x []float32, alpha float32) {
	x = x[:len(z)]
	n := 0
	if elemAVX2 {
		n = len(z) &^ 7
		if n > 0 {
			leakyReluAVX2(&z[0], &x[0], n, alpha)
		}
	}
	leakyReluGo(z[n:], x[n:], alpha)
}

//go:noescape
func sumF64AVX2(x *float32, n int, sq int) float64

//go:noescape
func accumF64AVX2(acc *float64, x *float32, n int, sq int)

// sumF32 returns Σ x (Σ x² when sq) accumulated in float64, and how many leading
// elements it covered (the caller adds the rest).
func sumF32(x []float32, sq bool) (float64, int) {
	n := len(x) &^ 15
	if !elemAVX2 || !cpu.X86.HasFMA || n == 0 {
		return 0, 0
	}
	s := 0
	if sq {
		s = 1
	}
	return sumF64AVX2(&x[0], n, s), n
}

// accumF32 adds x (x² when sq) to acc in float64 and returns how many leading
// elements it covered.
func accumF32(acc []float64, x []float32, sq bool) int {
	x = x[:len(acc)]
	n := len(acc) &^ 7
	if !elemAVX2 || !cpu.X86.HasFMA || n == 0 {
		return 0
	}
	s := 0
	if sq {
		s = 1
	}
	accumF64AVX2(&acc[0], &x[0], n, s)
	return n
}
