package cpu

import (
	"fmt"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() { register("", "Einsum", newEinsum) }

// newEinsum runs two-operand contractions without diagonals or broadcasting (the
// batched matrix products attention exports as Einsum) as permute, batched GEMM and
// permute; every other equation is evaluated directly: for each output element it
// walks every combination of the contracted labels, multiplying in float64, exact
// and general (diagonals, broadcasting ellipses, any operand count) but slow.
func newEinsum(n *graph.Node, env *Env) (backends.Kernel, error) {
	dt := n.Inputs[0].DType
	if !dt.IsFloat() && !dt.IsInteger() {
		return nil, unsupported(n, "dtype %v", dt)
	}
	eq := n.Attrs.GetString("equation", "")
	return wrap(n, func(in, out []*tensor.Tensor) error {
		ranks, shapes := make([]int, len(in)), make([][]int, len(in))
		for i, t := range in {
			ranks[i], shapes[i] = t.Rank(), t.Shape()
		}
		spec, err := ops.ParseEinsum(eq, ranks)
		if err != nil {
			return err
		}
		sizes, err := spec.Sizes(shapes)
		if err != nil {
			return err
		}
		oshape := make([]int, len(spec.Output))
		for i, l := range spec.Output {
			oshape[i] = sizes[l]
		}
		if !sameInts(out[0].Shape(), oshape) {
			return fmt.Errorf("output %v is not of shape %v", out[0], oshape)
		}
		if ok, err := einsumGEMM(env, spec, sizes, in, out[0]); ok || err != nil {
			return err
		}
		einsumDirect(env, spec, sizes, in, out[0])
		return nil
	}), nil
}

// einsumDirect evaluates the summation element by element in float64.
func einsumDirect(env *Env, spec *ops.EinsumSpec, sizes []int, in []*tensor.Tensor, dst *tensor.Tensor) {
	oshape := dst.Shape()
	inOut := make([]bool, spec.Labels)
	for _, l := range spec.Output {
		inOut[l] = true
	}
	var sum []int
	for l := 0; l < spec.Labels; l++ {
		if !inOut[l] {
			sum = append(sum, l)
		}
	}
	// stride[k][l]: how far input k moves per step of label l (0 when broadcast).
	vals := make([][]float64, len(in))
	stride := make([][]int, len(in))
	for k, t := range in {
		vals[k] = toFloat64s(t)
		stride[k] = make([]int, spec.Labels)
		st := contiguousStrides(t.Shape())
		for d, l := range spec.Inputs[k] {
			if t.Shape()[d] != 1 {
				stride[k][l] += st[d]
			}
		}
	}
	total := tensor.NumElements(oshape)
	res := make([]float64, total)
	inner := 1
	for _, l := range sum {
		inner *= sizes[l]
	}
	env.Parallel(total, max(1, 4096/max(1, inner)), func(lo, hi int) {
		base := make([]int, len(in))
		off := make([]int, len(in))
		idx := make([]int, len(sum))
		for o := lo; o < hi; o++ {
			rem := o
			clear(base)
			for i := len(spec.Output) - 1; i >= 0; i-- {
				l := spec.Output[i]
				v := rem % sizes[l]
				rem /= sizes[l]
				for k := range in {
					base[k] += v * stride[k][l]
				}
			}
			acc := 0.0
			clear(idx)
			copy(off, base)
			for c := 0; c < inner; c++ {
				p := 1.0
				for k := range in {
					p *= vals[k][off[k]]
				}
				acc += p
				for j := len(sum) - 1; j >= 0; j-- {
					l := sum[j]
					idx[j]++
					for k := range in {
						off[k] += stride[k][l]
					}
					if idx[j] < sizes[l] {
						break
					}
					for k := range in {
						off[k] -= idx[j] * stride[k][l]
					}
					idx[j] = 0
				}
			}
			res[o] = acc
		}
	})
	fromFloat64s(dst, res)
}

// einsumGEMM runs a two-operand contraction as permute, batched matrix product,
// permute, and reports whether it applied: float32 or float64 operands, no label
// repeated within an operand, none summed within a single operand, and no size-1
// broadcasting. Labels split into batch (both operands and the output), left (A
// and output), right (B and output) and contracted (both operands only).
func einsumGEMM(env *Env, spec *ops.EinsumSpec, sizes []int, in []*tensor.Tensor, dst *tensor.Tensor) (bool, error) {
	if len(in) != 2 || in[0].DType() != in[1].DType() {
		return false, nil
	}
	dt := in[0].DType()
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return false, nil
	}
	const (
		inA = 1 << iota
		inB
		inOut
	)
	where := make([]int, spec.Labels)
	for k, ls := range spec.Inputs {
		bit := inA << k
		for d, l := range ls {
			if where[l]&bit != 0 || in[k].Shape()[d] != sizes[l] {
				return false, nil // a diagonal, or a broadcast size-1 axis
			}
			where[l] |= bit
		}
	}
	for _, l := range spec.Output {
		where[l] |= inOut
	}
	var batch, left, right, contract []int
	for _, l := range spec.Output {
		switch where[l] {
		case inA | inB | inOut:
			batch = append(batch, l)
		case inA | inOut:
			left = append(left, l)
		case inB | inOut:
			right = append(right, l)
		default:
			return false, nil // an output label from neither operand (an ellipsis of size 1)
		}
	}
	for _, l := range spec.Inputs[0] {
		switch where[l] {
		case inA | inB:
			contract = append(contract, l)
		case inA:
			return false, nil // summed within A alone
		}
	}
	for _, l := range spec.Inputs[1] {
		if where[l] == inB {
			return false, nil // summed within B alone
		}
	}
	prod := func(ls []int) int {
		p := 1
		for _, l := range ls {
			p *= sizes[l]
		}
		return p
	}
	nb, m, n, k := prod(batch), prod(left), prod(right), prod(contract)
	// permuted copies input t with its axes in the label order given.
	permuted := func(t *tensor.Tensor, labels []int, order ...[]int) (*tensor.Tensor, error) {
		st := contiguousStrides(t.Shape())
		pos := map[int]int{}
		for d, l := range labels {
			pos[l] = d
		}
		var shape, strides []int
		for _, ls := range order {
			for _, l := range ls {
				shape = append(shape, sizes[l])
				strides = append(strides, st[pos[l]])
			}
		}
		c := tensor.New(t.DType(), shape)
		return c, moveStrided(env, c, t, shape, 0, strides)
	}
	a, err := permuted(in[0], spec.Inputs[0], batch, left, contract)
	if err != nil {
		return true, err
	}
	b, err := permuted(in[1], spec.Inputs[1], batch, contract, right)
	if err != nil {
		return true, err
	}
	order := append(append(append([]int{}, batch...), left...), right...)
	c := tensor.New(dt, []int{nb, m, n})
	if nb*m*n > 0 && k > 0 {
		if dt == tensor.Float32 {
			p := gemm.Params{M: m, N: n, K: k, A: a.Float32s(), LDA: k, B: b.Float32s(), LDB: n, C: c.Float32s(), LDC: n}
			if err := gemm.SgemmStrided(env.GEMM(), p, gemm.Strided{Batch: nb, StrideA: m * k, StrideB: k * n, StrideC: m * n}); err != nil {
				return true, err
			}
		} else {
			av, bv, cv := a.Float64s(), b.Float64s(), c.Float64s()
			for i := 0; i < nb; i++ {
				gemmGeneric(env, false, false, m, n, k, av[i*m*k:], k, bv[i*k*n:], n, cv[i*m*n:], n, false)
			}
		}
	}
	// c holds the output with its axes in (batch, left, right) order: put them in the
	// output's order.
	pos := map[int]int{}
	for i, l := range order {
		pos[l] = i
	}
	full := make([]int, len(order))
	for i, l := range order {
		full[i] = sizes[l]
	}
	fst := contiguousStrides(full)
	shape, strides := make([]int, len(spec.Output)), make([]int, len(spec.Output))
	for i, l := range spec.Output {
		shape[i], strides[i] = sizes[l], fst[pos[l]]
	}
	return true, moveStrided(env, dst, c, shape, 0, strides)
}
