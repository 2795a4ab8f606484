package cpu

import (
	"fmt"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register("", "Cast", newCast)
	register("", "CastLike", newCast)
}

// newCast converts between every pair of supported dtypes: numbers with Go's
// conversions (floats truncate towards zero into integers; values out of an integer
// type's range are undefined in ONNX and give whatever the conversion gives), bool as
// 0/1 and x != 0, float16 and bfloat16 through float32 with round-to-nearest-even.
func newCast(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		return castTensor(env, out[0], in[0])
	}), nil
}

func castTensor(env *Env, dst, src *tensor.Tensor) error {
	if dst.Len() != src.Len() {
		return fmt.Errorf("output %v and input %v differ in size", dst, src)
	}
	if dst.DType() == src.DType() {
		copy(dst.Bytes(), src.Bytes())
		return nil
	}
	switch {
	case src.DType() == tensor.Float32 && dst.DType() == tensor.Float16:
		x, z := src.Float32s(), dst.Halfs()
		env.Parallel(len(z), 65536, func(lo, hi int) { floatToHalf(z[lo:hi], x[lo:hi]) })
		return nil
	case src.DType() == tensor.Float16 && dst.DType() == tensor.Float32:
		x, z := src.Halfs(), dst.Float32s()
		env.Parallel(len(z), 65536, func(lo, hi int) { halfToFloat(z[lo:hi], x[lo:hi]) })
		return nil
	}
	if isHalf(src.DType()) {
		src = widen(src)
		if dst.DType() == tensor.Float32 {
			copy(dst.Bytes(), src.Bytes())
			return nil
		}
	}
	if isHalf(dst.DType()) {
		tmp := tensor.New(tensor.Float32, dst.Shape())
		if err := castTensor(env, tmp, src); err != nil {
			return err
		}
		narrowInto(dst, tmp.Float32s())
		return nil
	}
	switch src.DType() {
	case tensor.Float32:
		return castFrom(env, dst, raw[float32](src))
	case tensor.Float64:
		return castFrom(env, dst, raw[float64](src))
	case tensor.Int8:
		return castFrom(env, dst, raw[int8](src))
	case tensor.Int16:
		return castFrom(env, dst, raw[int16](src))
	case tensor.Int32:
		return castFrom(env, dst, raw[int32](src))
	case tensor.Int64:
		return castFrom(env, dst, raw[int64](src))
	case tensor.Uint8, tensor.Bool:
		return castFrom(env, dst, raw[uint8](src))
	case tensor.Uint16:
		return castFrom(env, dst, raw[uint16](src))
	case tensor.Uint32:
		return castFrom(env, dst, raw[uint32](src))
	case tensor.Uint64:
		return castFrom(env, dst, raw[uint64](src))
	}
	return fmt.Errorf("cannot cast from %v", src.DType())
}

func castFrom[S number](env *Env, dst *tensor.Tensor, src []S) error {
	switch dst.DType() {
	case tensor.Float32:
		castPar(env, raw[float32](dst), src)
	case tensor.Float64:
		castPar(env, raw[float64](dst), src)
	case tensor.Int8:
		castPar(env, raw[int8](dst), src)
	case tensor.Int16:
		castPar(env, raw[int16](dst), src)
	case tensor.Int32:
		castPar(env, raw[int32](dst), src)
	case tensor.Int64:
		castPar(env, raw[int64](dst), src)
	case tensor.Uint8:
		castPar(env, raw[uint8](dst), src)
	case tensor.Uint16:
		castPar(env, raw[uint16](dst), src)
	case tensor.Uint32:
		castPar(env, raw[uint32](dst), src)
	case tensor.Uint64:
		castPar(env, raw[uint64](dst), src)
	case tensor.Bool:
		d := raw[uint8](dst)
		for i, x := range src {
			d[i] = 0
			if x != 0 {
				d[i] = 1
			}
		}
	default:
		return fmt.Errorf("cannot cast to %v", dst.DType())
	}
	return nil
}

func castPar[D, S number](env *Env, dst []D, src []S) {
	env.Parallel(len(src), 65536, func(lo, hi int) { convert(dst[lo:hi], src[lo:hi]) })
}
