//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly loops (AVX2 and FMA; the OS saves YMM state).
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// expShiftSumAVX2 computes y[i] = expNeg32(x[i]-m) for i < n (n a multiple of 8)
// and returns their sum.
//
//go:noescape
func expShiftSumAVX2(x, y *float32, n int, m float32) float32

// scaleAVX2 computes y[i] *= s for i < n (n a multiple of 8).
//
//go:noescape
func scaleAVX2(y *float32, n int, s float32)

// expShiftSum stores exp(x[i]-m) (x[i] <= m) into y and returns the sum.
func expShiftSum(x, y []float32, m float32) float32 {
	y = y[:len(x)]
	n := len(x) &^ 7
	if !useAVX2 || n == 0 {
		return expShiftSumGo(x, y, m)
	}
	s := expShiftSumAVX2(&x[0], &y[0], n, m)
	return s + expShiftSumGo(x[n:], y[n:], m)
}

// scale multiplies y by s.
func scale(y []float32, s float32) {
	n := len(y) &^ 7
	if !useAVX2 || n == 0 {
		scaleGo(y, s)
		return
	}
	scaleAVX2(&y[0], n, s)
	scaleGo(y[n:], s)
}

// sumAVX2 returns Σ x[i] for i < n (n a multiple of 8).
//
//go:noescape
func sumAVX2(x *float32, n int) float32

// sqDiffSumAVX2 returns Σ (x[i]-m)² for i < n (n a multiple of 8).
//
//go:noescape
func sqDiffSumAVX2(x *float32, n int, m float32) float32

// normAffineAVX2 computes y[i] = (x[i]-m)*inv*gamma[i] + beta[i] for i < n (n a multiple of 8).
//
//go:noescape
func normAffineAVX2(x, y, gamma, beta *float32, n int, m, inv float32)

// sum returns Σ x.
func sum(x []float32) float32 {
	n := len(x) &^ 7
	if !useAVX2 || n == 0 {
		return sumGo(x)
	}
	return sumAVX2(&x[0], n) + sumGo(x[n:])
}

// sqDiffSum returns Σ (x-m)².
func sqDiffSum(x []float32, m float32) float32 {
	n := len(x) &^ 7
	if !useAVX2 || n == 0 {
		return sqDiffSumGo(x, m)
	}
	return sqDiffSumAVX2(&x[0], n, m) + sqDiffSumGo(x[n:], m)
}

// normAffine computes y = (x-m)*inv*g + b (g, b, y at least as long as x).
func normAffine(x, y, g, b []float32, m, inv float32) {
	n := len(x) &^ 7
	if !useAVX2 || n == 0 {
		normAffineGo(x, y, g, b, m, inv)
		return
	}
	y, g, b = y[:len(x)], g[:len(x)], b[:len(x)]
	normAffineAVX2(&x[0], &y[0], &g[0], &b[0], n, m, inv)
	normAffineGo(x[n:], y[n:], g[n:], b[n:], m, inv)
}

// rowMaxAVX2 returns the largest of x[i] for i < n (n a positive multiple of 8).
//
//go:noescape
func rowMaxAVX2(x *float32, n int) float32

// rowMax returns the largest element of x.
func rowMax(x []float32) float32 {
	n := len(x) &^ 7
	if !useAVX2 || n == 0 {
		return rowMaxGo(x)
	}
	return max(rowMaxAVX2(&x[0], n), rowMaxGo(x[n:]))
}

// scaleShiftAVX2 computes y[i] = x[i]*a + b for i < n (n a multiple of 8).
//
//go:noescape
func scaleShiftAVX2(x, y *float32, n int, a, b float32)

// scaleShift computes y = x*a + b (y at least as long as x).
func scaleShift(x, y []float32, a, b float32) {
	n := len(x) &^ 7
	if !useAVX2 || n == 0 {
		scaleShiftGo(x, y, a, b)
		return
	}
	y = y[:len(x)]
	scaleShiftAVX2(&x[0], &y[0], n, a, b)
	scaleShiftGo(x[n:], y[n:], a, b)
}
