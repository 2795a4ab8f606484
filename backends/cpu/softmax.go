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
	if f, ok := any(x).([]float32); ok && kind != softmaxHard {
		m = float64(rowMax(f))
	} else {
		for j, v := range x {
			if f := float64(v); f > m {
				m, at = f, j
			}
		}
	}
	switch kind {
	case softmaxHard:
		clear(y)
		y[at] = 1
		return
	case softmaxLog:
		if f, ok := any(x).([]float32); ok && !math.IsInf(m, 0) && !math.IsNaN(m) {
			y32 := any(y).([]float32)
			ls := float32(m + math.Log(float64(expShiftSum(f, y32, float32(m)))))
			for j, v := range f {
				y32[j] = v - ls
			}
			return
		}
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
		softmaxRow32(f, any(y).([]float32), float32(m))
		return
	}
	for j, v := range x {
		e := math.Exp(float64(v) - m)
		y[j] = T(e)
		s += e
	}
	inv := 1 / s
	for j := range y {
		y[j] = T(float64(y[j]) * inv)
	}
}

// softmaxRow32 is the float32 row y = exp(x-m)/Σexp(x-m) for the row's finite
// maximum m, on the vector helpers of softmax_vec.go.
func softmaxRow32(x, y []float32, m float32) {
	s := expShiftSum(x, y, m)
	scale(y[:len(x)], 1/s)
}
