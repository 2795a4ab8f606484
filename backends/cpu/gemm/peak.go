package gemm

import "time"

// MeasurePeakGFLOPS runs a loop of independent vector FMAs (the widest the
// CPU has) on the calling goroutine for about d and returns the float32
// GFLOP/s one core reached: an estimate of one core's peak, for benchmarks.
// It returns 0 where no assembly kernel exists.
func MeasurePeakGFLOPS(d time.Duration) float64 {
	const n = 1 << 16
	best := 0.0
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		t := time.Now()
		flops := fmaPeak(n)
		if flops == 0 {
			return 0
		}
		if g := flops / time.Since(t).Seconds() / 1e9; g > best {
			best = g
		}
	}
	return best
}
