package cpu

import (
	"context"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register("", "Relu", unaryFactory(func(x float64) float64 { return max(x, 0) }, func(x float32) float32 { return max(x, 0) }))
}

// unaryFactory builds an elementwise kernel with a float32 fast path and a float64
// fallback for every other dtype.
func unaryFactory(slow func(float64) float64, f32 func(float32) float32) Factory {
	return func(n *graph.Node, env *Env) (backends.Kernel, error) {
		return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
			x, y := in[0], out[0]
			if x.DType() == tensor.Float32 && f32 != nil {
				xs, ys := x.Float32s(), y.Float32s()
				env.Parallel(len(ys), 32768, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						ys[i] = f32(xs[i])
					}
				})
				return nil
			}
			env.Parallel(y.Len(), 32768, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					y.SetFloat64At(i, slow(x.Float64At(i)))
				}
			})
			return nil
		}), nil
	}
}
