package cpu

import (
	"fmt"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() { register("", "Einsum", newEinsum) }

// newEinsum evaluates the summation directly: for each output element it walks every
// combination of the contracted labels, multiplying the inputs in float64. It is
// exact and general (diagonals, broadcasting ellipses, any operand count) but does no
// contraction ordering or GEMM; exporters mostly emit Einsum for small tensors, and a
// rewrite into MatMul is the fast path for large ones.
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
		inOut := make([]bool, spec.Labels)
		for i, l := range spec.Output {
			oshape[i] = sizes[l]
			inOut[l] = true
		}
		if !sameInts(out[0].Shape(), oshape) {
			return fmt.Errorf("output %v is not of shape %v", out[0], oshape)
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
		fromFloat64s(out[0], res)
		return nil
	}), nil
}
