package cpu

import (
	"context"
	"fmt"
	"math"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register("", "MatMulInteger", newMatMulInteger)
	register("", "QLinearMatMul", newQLinearMatMul)
}

// widenZP returns the int8/uint8 tensor t as int32 values minus its zero point: zp is
// nil (0), a scalar, or one value per row (rowAxis: A's rows, each k long) or per
// column (B's columns, n apart).
func widenZP(t, zp *tensor.Tensor, perRow bool, rows, cols int) ([]int32, error) {
	n := t.Len()
	out := make([]int32, n)
	var zv []int32
	if zp != nil {
		zv = make([]int32, zp.Len())
		for i := range zv {
			zv[i] = int32(zp.Int64At(i))
		}
		want := cols
		if perRow {
			want = rows
		}
		if len(zv) != 1 && len(zv) != want {
			return nil, fmt.Errorf("zero point %v must be a scalar or have %d values", zp, want)
		}
	}
	switch t.DType() {
	case tensor.Uint8:
		for i, v := range t.Uint8s() {
			out[i] = int32(v)
		}
	case tensor.Int8:
		for i, v := range t.Int8s() {
			out[i] = int32(v)
		}
	default:
		return nil, fmt.Errorf("input %v is not int8 or uint8", t)
	}
	switch {
	case len(zv) == 1:
		for i := range out {
			out[i] -= zv[0]
		}
	case len(zv) > 1 && perRow:
		for i := range out {
			out[i] -= zv[i/cols%rows]
		}
	case len(zv) > 1:
		for i := range out {
			out[i] -= zv[i%cols]
		}
	}
	return out, nil
}

// int8Product computes the int32 matmul of int8/uint8 a and b with zero points.
func int8Product(env *Env, a, b, azp, bzp *tensor.Tensor, c []int32) (matmulDims, error) {
	d, err := matmulShapes(a.Shape(), b.Shape())
	if err != nil {
		return d, err
	}
	if want := tensor.NumElements(d.batch) * d.m * d.n; len(c) != want {
		return d, fmt.Errorf("output has %d elements, expected %d", len(c), want)
	}
	ai, err := widenZP(a, azp, true, d.m, d.k)
	if err != nil {
		return d, fmt.Errorf("A: %w", err)
	}
	bi, err := widenZP(b, bzp, false, d.k, d.n)
	if err != nil {
		return d, fmt.Errorf("B: %w", err)
	}
	d.forBatch(func(i, oa, ob int) {
		gemmGeneric(env, false, false, d.m, d.n, d.k, ai[oa:], d.k, bi[ob:], d.n, c[i*d.m*d.n:], d.n, false)
	})
	return d, nil
}

func quantInput(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// newMatMulInteger: int32 = (A - a_zero_point) @ (B - b_zero_point), zero points
// scalar, per row of A or per column of B.
func newMatMulInteger(n *graph.Node, env *Env) (backends.Kernel, error) {
	name := n.Name
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		if _, err := int8Product(env, in[0], in[1], quantInput(in, 2), quantInput(in, 3), out[0].Int32s()); err != nil {
			return fmt.Errorf("cpu: node %q (MatMulInteger): %w", name, err)
		}
		return nil
	}), nil
}

// newQLinearMatMul: the int32 product of the zero-point-shifted inputs, scaled by
// a_scale·b_scale/y_scale (scales scalar, per row of A or per column of B), rounded
// half to even, shifted by y_zero_point and saturated to the output type.
func newQLinearMatMul(n *graph.Node, env *Env) (backends.Kernel, error) {
	name := n.Name
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		fail := func(err error) error { return fmt.Errorf("cpu: node %q (QLinearMatMul): %w", name, err) }
		y := out[0]
		acc := make([]int32, y.Len())
		d, err := int8Product(env, in[0], in[3], in[2], in[5], acc)
		if err != nil {
			return fail(err)
		}
		as, bs, ys := scales32(in[1]), scales32(in[4]), scales32(in[6])
		if (len(as) != 1 && len(as) != d.m) || (len(bs) != 1 && len(bs) != d.n) || len(ys) != 1 || in[7].Len() != 1 {
			return fail(fmt.Errorf("scales %v, %v, %v and y_zero_point %v must be scalars (or per row of A, per column of B)", in[1], in[4], in[6], in[7]))
		}
		yzp := float32(in[7].Int64At(0))
		lo, hi := float32(0), float32(255)
		if y.DType() == tensor.Int8 {
			lo, hi = -128, 127
		}
		for i, v := range acc {
			row, col := i/d.n%d.m, i%d.n
			sa, sb := as[0], bs[0]
			if len(as) > 1 {
				sa = as[row]
			}
			if len(bs) > 1 {
				sb = bs[col]
			}
			q := float32(math.RoundToEven(float64(float32(v)*(sa*sb/ys[0])))) + yzp
			q = min(max(q, lo), hi)
			y.SetFloat64At(i, float64(q))
		}
		return nil
	}), nil
}

// scales32 returns a scale tensor's values as float32 (float16/bfloat16 widened).
func scales32(t *tensor.Tensor) []float32 {
	if t.DType() == tensor.Float32 {
		return t.Float32s()
	}
	out := make([]float32, t.Len())
	for i := range out {
		out[i] = float32(t.Float64At(i))
	}
	return out
}
