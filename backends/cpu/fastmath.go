package cpu

import "math"

// Fast float32 transcendental functions for the activation kernels. Each computes in
// float64 with a short polynomial, which is several times faster than package math's
// float64 routines and still far more accurate than float32 needs: expf is within
// 1e-8 relative of math.Exp, the others follow from it (erff is the exception: it
// uses Abramowitz-Stegun 7.1.26, within 1.5e-7 absolute of math.Erf). NaN in, NaN out.

const (
	log2e = 1.4426950408889634
	ln2   = 0.6931471805599453
)

// expd is e^x for x in roughly [-700, 700]: 2^n · e^r with |r| <= ln2/2 and a degree-7
// Taylor polynomial for e^r (relative error below 1e-8). Outside that range it
// saturates to 0 or +Inf.
func expd(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > 709:
		return math.Inf(1)
	case x < -708:
		return 0
	}
	n := math.Floor(x*log2e + 0.5)
	r := x - n*ln2
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float64frombits(uint64(int64(n)+1023)<<52)
}

// expf is e^x for float32.
func expf(x float32) float32 { return float32(expd(float64(x))) }

// sigmoidf is 1/(1+e^-x).
func sigmoidf(x float32) float32 {
	t := -float64(x)
	if t != t {
		return x
	}
	t = max(-700, min(t, 700)) // keeps expd in range; sigmoid has saturated long before
	return float32(1 / (1 + expd(t)))
}

// tanhf is tanh(x), from expm1(2x) / (expm1(2x) + 2), with the odd Taylor series
// near zero where expm1 would cancel.
func tanhf(x float32) float32 {
	v := float64(x)
	if v != v {
		return x
	}
	a := math.Abs(v)
	if a < 0.04 {
		v2 := v * v
		return float32(v * (1 + v2*(-1.0/3+v2*(2.0/15+v2*(-17.0/315)))))
	}
	if a > 20 {
		return float32(math.Copysign(1, v))
	}
	e := expd(2*a) - 1
	return float32(math.Copysign(e/(e+2), v))
}

// erfcPos is erfc(a) for a >= 0 by Abramowitz-Stegun 7.1.26 (absolute error below
// 1.5e-7), computed without cancellation.
func erfcPos(a float64) float64 {
	t := 1 / (1 + 0.3275911*a)
	return t * (0.254829592 + t*(-0.284496736+t*(1.421413741+t*(-1.453152027+t*1.061405429)))) * expd(-a*a)
}

// erfd is erf(x) (absolute error below 1.5e-7).
func erfd(x float64) float64 {
	if x != x {
		return x
	}
	return math.Copysign(1-erfcPos(math.Abs(x)), x)
}

// erff is erf(x) for float32.
func erff(x float32) float32 { return float32(erfd(float64(x))) }

// geluf is 0.5·x·(1 + erf(x/√2)) = 0.5·x·erfc(-x/√2).
func geluf(x float32) float32 {
	v := float64(x)
	if v != v {
		return x
	}
	if v >= 0 {
		return float32(0.5 * v * (2 - erfcPos(v/math.Sqrt2)))
	}
	return float32(0.5 * v * erfcPos(-v/math.Sqrt2))
}

// geluTanhf is GELU's tanh approximation 0.5·x·(1 + tanh(u)), u = √(2/π)·(x +
// 0.044715·x³), computed as x / (1 + e^(-2u)) to avoid cancellation for negative x.
func geluTanhf(x float32) float32 {
	v := float64(x)
	if v != v {
		return x
	}
	if math.IsInf(v, -1) {
		return float32(math.NaN()) // as the formula gives: -Inf · 0
	}
	u := 0.7978845608028654 * (v + 0.044715*v*v*v)
	return float32(v / (1 + expd(max(-700, min(-2*u, 700)))))
}

// siluf is x·sigmoid(x).
func siluf(x float32) float32 { return x * sigmoidf(x) }
