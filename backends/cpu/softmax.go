package cpu

import (
	"context"
	"fmt"
	"math"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register("", "Softmax", viaFloat32(softmaxFactory(softmaxPlain)))
	register("", "LogSoftmax", viaFloat32(softmaxFactory(softmaxLog)))
	register("", "Hardmax", viaFloat32(softmaxFactory(softmaxHard)))
}

type softmaxKind int

const (
	softmaxPlain softmaxKind = iota
	softmaxLog
	softmaxHard
)

// softmaxFactory prepares Softmax, LogSoftmax or Hardmax. The axis semantics follow
// the node's opset (ops.NodeOpset: the "_opset" attribute the ONNX loader sets;
// newest when absent): before 13 the input is flattened to 2-D at axis (default 1),
// from 13 the operation runs along the single axis (default -1).
func softmaxFactory(kind softmaxKind) Factory {
	return func(n *graph.Node, env *Env) (backends.Kernel, error) {
		if err := floatKernel(n); err != nil {
			return nil, err
		}
		opset := ops.NodeOpset(n, 0)
		name, op, attrs := n.Name, n.Op, n.Attrs
		return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
			x, y := in[0], out[0]
			sp, err := ops.SoftmaxLayout(attrs, x.Shape(), opset)
			if err != nil {
				return fmt.Errorf("cpu: node %q (%s): %w", name, op, err)
			}
			if x.DType() == tensor.Float32 {
				softmaxRun(env, kind, sp, x.Float32s(), y.Float32s())
			} else {
				softmaxRun(env, kind, sp, x.Float64s(), y.Float64s())
			}
			return nil
		}), nil
	}
}

func softmaxRun[T float32 | float64](env *Env, kind softmaxKind, sp ops.SoftmaxSpan, x, y []T) {
	if sp.Axis == 0 {
		return
	}
	groups := sp.Outer * sp.Inner
	env.Parallel(groups, max(1, 8192/sp.Axis), func(lo, hi int) {
		var xb, yb []T
		if sp.Inner > 1 {
			xb, yb = make([]T, sp.Axis), make([]T, sp.Axis)
		}
		for g := lo; g < hi; g++ {
			o, i := g/sp.Inner, g%sp.Inner
			base := o*sp.Axis*sp.Inner + i
			xr, yr := xb, yb
			if sp.Inner == 1 {
				xr, yr = x[base:base+sp.Axis], y[base:base+sp.Axis]
			} else {
				for j := range xr {
					xr[j] = x[base+j*sp.Inner]
				}
			}
			softmaxLine(kind, xr, yr)
			if sp.Inner > 1 {
				for j, v := range yr {
					y[base+j*sp.Inner] = v
				}
			}
		}
	})
}

// softmaxLine computes one row: max-shifted exponentials summed in float64.
func softmaxLine[T float32 | float64](kind softmaxKind, x, y []T) {
	m := math.Inf(-1)
	at := 0
	for j, v := range x {
		if f := float64(v); f > m {
			m, at = f, j
		}
	}
	switch kind {
	case softmaxHard:
		clear(y)
		y[at] = 1
		return
	case softmaxLog:
		s := 0.0
		for _, v := range x {
			s += math.Exp(float64(v) - m)
		}
		ls := m + math.Log(s)
		for j, v := range x {
			y[j] = T(float64(v) - ls)
		}
		return
	}
	var s float64
	if f, ok := any(x).([]float32); ok && !math.IsInf(m, 0) && !math.IsNaN(m) {
		s = expShift32(f, any(y).([]float32), float32(m))
	} else {
		for j, v := range x {
			e := math.Exp(float64(v) - m)
			y[j] = T(e)
			s += e
		}
	}
	inv := 1 / s
	for j := range y {
		y[j] = T(float64(y[j]) * inv)
	}
}

// expShift32 stores exp(x-m) into y and returns the sum (in float64).
func expShift32(x, y []float32, m float32) float64 {
	s := 0.0
	for j, v := range x {
		e := exp32(v - m)
		y[j] = e
		s += float64(e)
	}
	return s
}

// exp32 is exp for float32 arguments at float32 accuracy (a few ulp): x = k·ln2 + r
// with |r| <= ln2/2, exp(r) by a degree-6 polynomial, scaled by 2^k through the
// exponent bits. It is several times faster than math.Exp.
func exp32(x float32) float32 {
	switch {
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -103.97208:
		return 0
	case x != x:
		return x
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	// Round x·log2(e) to the nearest integer by adding 1.5·2^23: the sum's low
	// mantissa bits then hold k (valid for |x·log2e| < 2^22).
	const magic = 12582912.0
	t := x*log2e + magic
	kf := t - magic
	r := x - kf*ln2hi - kf*ln2lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	e := p*r*r + r + 1
	k := int32(math.Float32bits(t)) - 0x4B400000
	if k < -126 { // subnormal result: scale in two steps
		return e * math.Float32frombits(uint32(k+126+127)<<23) * math.Float32frombits(1<<23)
	}
	if k > 127 {
		return e * 2 * math.Float32frombits(uint32(k-1+127)<<23)
	}
	return e * math.Float32frombits(uint32(k+127)<<23)
}
