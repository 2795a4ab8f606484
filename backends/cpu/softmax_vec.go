package cpu

import "math"

// Vector helpers of the float32 softmax (and layer normalization) rows. Each has a
// pure-Go reference loop here; softmax_amd64.s implements the same loops with
// AVX2+FMA, eight lanes at a time, chosen at start-up when the CPU has both
// (softmax_amd64.go), and softmax_noasm.go uses the Go loops elsewhere and with the
// purego build tag. The assembly is tested against these loops.

// Constants of expNeg: exp(v) = 2^k · exp(r), v = k·ln2 + r, |r| <= ln2/2, with
// exp(r) ≈ 1 + r + r²·P(r) (Cephes' expf polynomial), for v in [expMin, 0].
const (
	expLog2e = 1.44269504088896341
	expLn2Hi = 0.693359375
	expLn2Lo = -2.12194440e-4
	expMagic = 12582912.0 // 1.5·2^23: adding it rounds to an integer kept in the low mantissa bits
	expMin   = -87.3      // below, results are clamped (exp(-87.3) ≈ 1.2e-38)
	expP0    = 1.9875691500e-4
	expP1    = 1.3981999507e-3
	expP2    = 8.3334519073e-3
	expP3    = 4.1665795894e-2
	expP4    = 1.6666665459e-1
	expP5    = 5.0000001201e-1
)

// expNeg32 is exp(v) for v <= 0 to a few float32 ulp; v below expMin gives
// exp(expMin), NaN gives NaN.
func expNeg32(v float32) float32 {
	if v != v {
		return v
	}
	v = max(v, expMin)
	t := v*expLog2e + expMagic
	kf := t - expMagic
	r := v - kf*expLn2Hi - kf*expLn2Lo
	p := ((((expP0*r+expP1)*r+expP2)*r+expP3)*r+expP4)*r + expP5
	e := p*r*r + r + 1
	return e * math.Float32frombits(uint32(int32(math.Float32bits(t))-0x4B400000+127)<<23)
}

// expShiftSumGo is the reference loop of expShiftSum:
//
//	for i := range x { y[i] = expNeg32(x[i] - m); sum += y[i] }
//
// (the assembly sums in eight lanes, so sums agree to rounding).
func expShiftSumGo(x, y []float32, m float32) float32 {
	y = y[:len(x)]
	var s float32
	for i, v := range x {
		e := expNeg32(v - m)
		y[i] = e
		s += e
	}
	return s
}

// scaleGo is the reference loop of scale: for i := range y { y[i] *= s }.
func scaleGo(y []float32, s float32) {
	for i := range y {
		y[i] *= s
	}
}

// sumGo is the reference loop of sum: Σ x[i].
func sumGo(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += v
	}
	return s
}

// sqDiffSumGo is the reference loop of sqDiffSum: Σ (x[i]-m)².
func sqDiffSumGo(x []float32, m float32) float32 {
	var s float32
	for _, v := range x {
		d := v - m
		s += d * d
	}
	return s
}

// normAffineGo is the reference loop of normAffine (layer normalization's output):
//
//	for i := range x { y[i] = (x[i]-m)*inv*g[i] + b[i] }
func normAffineGo(x, y, g, b []float32, m, inv float32) {
	y, g, b = y[:len(x)], g[:len(x)], b[:len(x)]
	for i, v := range x {
		y[i] = (v-m)*inv*g[i] + b[i]
	}
}

// rowMaxGo is the reference loop of rowMax: the largest of x (-Inf for an empty
// row). NaNs are skipped here; the assembly may return a NaN instead, and either
// way a row holding a NaN softmaxes to NaNs.
func rowMaxGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// scaleShiftGo is the reference loop of scaleShift (batch, instance and group
// normalization's per-channel affine map): for i := range x { y[i] = x[i]*a + b }.
func scaleShiftGo(x, y []float32, a, b float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = v*a + b
	}
}
