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
