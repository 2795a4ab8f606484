package cpu

import (
	"context"
	"math"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

type number interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

func init() {
	register("", "Add", binaryFactory(func(a, b float64) float64 { return a + b }, addT[float32], addT[float64], addT[int32], addT[int64]))
	register("", "Sub", binaryFactory(func(a, b float64) float64 { return a - b }, subT[float32], subT[float64], subT[int32], subT[int64]))
	register("", "Mul", binaryFactory(func(a, b float64) float64 { return a * b }, mulT[float32], mulT[float64], mulT[int32], mulT[int64]))
	register("", "Div", binaryFactory(func(a, b float64) float64 { return a / b }, divT[float32], divT[float64], divIntT[int32], divIntT[int64]))
}

func addT[T number](a, b T) T { return a + b }
func subT[T number](a, b T) T { return a - b }
func mulT[T number](a, b T) T { return a * b }
func divT[T number](a, b T) T { return a / b }
func divIntT[T number](a, b T) T {
	if b == 0 {
		return 0
	}
	return a / b
}

// binaryFactory builds a broadcasting kernel with typed fast paths for float32,
// float64, int32 and int64 and a float64 fallback for every other dtype.
func binaryFactory(slow func(a, b float64) float64, f32 func(a, b float32) float32, f64 func(a, b float64) float64,
	i32 func(a, b int32) int32, i64 func(a, b int64) int64) Factory {
	return func(n *graph.Node, env *Env) (backends.Kernel, error) {
		var run func(a, b, o *tensor.Tensor)
		switch n.Inputs[0].DType {
		case tensor.Float32:
			run = func(a, b, o *tensor.Tensor) { binaryTyped(env, a, b, o, a.Float32s(), b.Float32s(), o.Float32s(), f32) }
		case tensor.Float64:
			run = func(a, b, o *tensor.Tensor) { binaryTyped(env, a, b, o, a.Float64s(), b.Float64s(), o.Float64s(), f64) }
		case tensor.Int32:
			run = func(a, b, o *tensor.Tensor) { binaryTyped(env, a, b, o, a.Int32s(), b.Int32s(), o.Int32s(), i32) }
		case tensor.Int64:
			run = func(a, b, o *tensor.Tensor) { binaryTyped(env, a, b, o, a.Int64s(), b.Int64s(), o.Int64s(), i64) }
		default:
			run = func(a, b, o *tensor.Tensor) {
				binaryLoop(env, a.Shape(), b.Shape(), o.Shape(), func(oi, ia, ib, cnt, sa, sb int) {
					for j := 0; j < cnt; j++ {
						o.SetFloat64At(oi+j, slow(a.Float64At(ia+j*sa), b.Float64At(ib+j*sb)))
					}
				})
			}
		}
		return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
			run(in[0], in[1], out[0])
			return nil
		}), nil
	}
}

func binaryTyped[T number](env *Env, a, b, o *tensor.Tensor, av, bv, ov []T, f func(a, b T) T) {
	if len(av) == len(ov) && len(bv) == len(ov) { // same shapes: one flat loop
		env.Parallel(len(ov), 32768, func(lo, hi int) {
			x, y, z := av[lo:hi], bv[lo:hi], ov[lo:hi]
			for i := range z {
				z[i] = f(x[i], y[i])
			}
		})
		return
	}
	binaryLoop(env, a.Shape(), b.Shape(), o.Shape(), func(oi, ia, ib, cnt, sa, sb int) {
		z := ov[oi : oi+cnt]
		switch {
		case sa == 1 && sb == 1:
			x, y := av[ia:ia+cnt], bv[ib:ib+cnt]
			for i := range z {
				z[i] = f(x[i], y[i])
			}
		case sa == 1 && sb == 0:
			x, y := av[ia:ia+cnt], bv[ib]
			for i := range z {
				z[i] = f(x[i], y)
			}
		case sa == 0 && sb == 1:
			x, y := av[ia], bv[ib:ib+cnt]
			for i := range z {
				z[i] = f(x, y[i])
			}
		default:
			for i := range z {
				z[i] = f(av[ia+i*sa], bv[ib+i*sb])
			}
		}
	})
}

var _ = math.Abs
