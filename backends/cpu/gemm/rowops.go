package gemm

import (
	"fmt"
	"math"
)

// SoftmaxRow replaces x by softmax(x) = exp(x[i]-max) / Σ exp(x[j]-max).
// exp is a float32 polynomial (Cephes expf, relative error ~2e-7 on the range
// softmax uses); the same algorithm runs in assembly and in Go.
func SoftmaxRow(x []float32) {
	if len(x) == 0 {
		return
	}
	m := rowMax(x)
	s := expSum(x, m)
	scaleRow(x, 1/s)
}

// LayerNormRow sets y[i] = (x[i]-mean)/sqrt(var+eps)·gamma[i] + beta[i], with
// the mean and (biased) variance of x. gamma and beta may be nil (1 and 0);
// otherwise they, and y, must be as long as x. y may be x.
func LayerNormRow(y, x, gamma, beta []float32, eps float32) error {
	n := len(x)
	if len(y) != n || gamma != nil && len(gamma) != n || beta != nil && len(beta) != n {
		return fmt.Errorf("gemm: LayerNormRow: lengths x %d, y %d, gamma %d, beta %d: %w", n, len(y), len(gamma), len(beta), ErrInvalid)
	}
	if n == 0 {
		return nil
	}
	mean := sumDev(x, 0, false) / float32(n)
	// Two passes (mean, then squared deviations) for accuracy.
	v := sumDev(x, mean, true) / float32(n)
	rstd := float32(1 / math.Sqrt(float64(v)+float64(eps)))
	norm(y, x, gamma, beta, mean, rstd)
	return nil
}

// The helpers below run the assembly on the multiple-of-8 prefix (where
// available) and the Go twin on the rest.

func rowMax(x []float32) float32 {
	n8 := len(x) &^ 7
	m := float32(math.Inf(-1))
	if n8 > 0 && hasRowAsm {
		m = maxAVX2(&x[0], n8)
		x = x[n8:]
	}
	for _, v := range x {
		if v > m || v != v {
			m = v
		}
	}
	return m
}

func expSum(x []float32, sub float32) float32 {
	n8 := len(x) &^ 7
	s := float32(0)
	if n8 > 0 && hasRowAsm {
		s = expSumAVX2(&x[0], n8, sub)
		x = x[n8:]
	}
	for i, v := range x {
		x[i] = expf32(v - sub)
		s += x[i]
	}
	return s
}

func scaleRow(x []float32, f float32) {
	n8 := len(x) &^ 7
	if n8 > 0 && hasRowAsm {
		scaleAVX2(&x[0], n8, f)
		x = x[n8:]
	}
	for i := range x {
		x[i] *= f
	}
}

func sumDev(x []float32, mean float32, square bool) float32 {
	n8 := len(x) &^ 7
	s := float32(0)
	if n8 > 0 && hasRowAsm {
		s = sumDevAVX2(&x[0], n8, mean, square)
		x = x[n8:]
	}
	for _, v := range x {
		d := v - mean
		if square {
			d *= d
		}
		s += d
	}
	return s
}

func norm(y, x, gamma, beta []float32, mean, rstd float32) {
	i := 0
	if n8 := len(x) &^ 7; n8 > 0 && hasRowAsm && gamma != nil && beta != nil {
		normAVX2(&y[0], &x[0], &gamma[0], &beta[0], n8, mean, rstd)
		i = n8
	}
	for ; i < len(x); i++ {
		v := (x[i] - mean) * rstd
		if gamma != nil {
			v *= gamma[i]
		}
		if beta != nil {
			v += beta[i]
		}
		y[i] = v
	}
}

// expf32 is the Go twin of the assembly exp (Cephes expf): clamp, split
// x = n·ln2 + r, a degree-6 polynomial in r, scale by 2^n.
func expf32(x float32) float32 {
	const (
		hi    = 88.3762626647949
		lo    = -87.3365447504019
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	if x != x {
		return x
	}
	x = min(max(x, lo), hi)
	fx := float32(math.RoundToEven(float64(x * log2e)))
	x -= fx * c1
	x -= fx * c2
	z := x * x
	y := float32(1.9875691500e-4)
	y = y*x + 1.3981999507e-3
	y = y*x + 8.3334519073e-3
	y = y*x + 4.1665795894e-2
	y = y*x + 1.6666665459e-1
	y = y*x + 5.0000001201e-1
	y = y*z + x + 1
	return y * math.Float32frombits(uint32(int32(fx)+127)<<23)
}
