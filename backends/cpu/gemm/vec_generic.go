package gemm

import "unsafe"

// biasActGo is the Go twin of biasActAVX2: x[i] += bias[i] (flagColBias) or
// s (flagRowBias), then max(x[i], 0) (flagReLU, NaN kept), for i < n.
func biasActGo(xp, bp *float32, s float32, n, flags int) {
	x := unsafe.Slice(xp, n)
	switch {
	case flags&flagColBias != 0:
		b := unsafe.Slice(bp, n)
		for i := range x {
			x[i] += b[i]
		}
	case flags&flagRowBias != 0:
		for i := range x {
			x[i] += s
		}
	}
	if flags&flagReLU != 0 {
		for i, v := range x {
			if v < 0 {
				x[i] = 0
			}
		}
	}
}

// axpyGo is the Go twin of axpyAVX2: y[i] += alpha*x[i] for i < n.
func axpyGo(alpha float32, xp, yp *float32, n int) {
	x, y := unsafe.Slice(xp, n), unsafe.Slice(yp, n)
	for i, v := range x {
		y[i] += alpha * v
	}
}
