package cpu

import (
	"fmt"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	// Operators that only change the shape copy the data (outputs are separate buffers).
	for _, op := range []string{"Reshape", "Flatten", "Squeeze", "Unsqueeze"} {
		register("", op, newIdentity)
	}
	register("", "Dropout", newDropout)
	register("", "Shape", newShape)
	register("", "Size", newSize)
	register("", "ConstantOfShape", newConstantOfShape)
	register("", "Constant", newConstant)
	register("", "Range", newRange)
}

func newDropout(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		training := len(in) > 2 && in[2] != nil && in[2].Len() == 1 && in[2].Float64At(0) != 0
		ratio := 0.5
		if len(in) > 1 && in[1] != nil && in[1].Len() == 1 {
			ratio = in[1].Float64At(0)
		}
		if training && ratio != 0 {
			return fmt.Errorf("training_mode with ratio %v draws random masks: %w", ratio, backends.ErrUnsupported)
		}
		if err := copyBody(in, out); err != nil {
			return err
		}
		if len(out) > 1 && out[1] != nil {
			for i := range out[1].Bools() {
				out[1].Bools()[i] = true
			}
		}
		return nil
	}), nil
}

func newShape(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		shape := in[0].Shape()
		s, e := ops.ShapeRange(n.Attrs, len(shape))
		o := out[0].Int64s()
		if len(o) != e-s {
			return fmt.Errorf("output %v cannot hold %d dimensions", out[0], e-s)
		}
		for i, d := range shape[s:e] {
			o[i] = int64(d)
		}
		return nil
	}), nil
}

func newSize(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		out[0].Int64s()[0] = int64(in[0].Len())
		return nil
	}), nil
}

// fillWith repeats the element bits of value (one element of dst's dtype) over dst.
func fillWith(dst *tensor.Tensor, value []byte) error {
	switch len(value) {
	case 1:
		fillSlice(raw[uint8](dst), value[0])
	case 2:
		v := tensor.New(tensor.Uint16, []int{1})
		copy(v.Bytes(), value)
		fillSlice(raw[uint16](dst), v.Uint16s()[0])
	case 4:
		v := tensor.New(tensor.Uint32, []int{1})
		copy(v.Bytes(), value)
		fillSlice(raw[uint32](dst), v.Uint32s()[0])
	case 8:
		v := tensor.New(tensor.Uint64, []int{1})
		copy(v.Bytes(), value)
		fillSlice(raw[uint64](dst), v.Uint64s()[0])
	default:
		return fmt.Errorf("cannot fill %v with %d bytes", dst, len(value))
	}
	return nil
}

func fillSlice[T any](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}

func newConstantOfShape(n *graph.Node, env *Env) (backends.Kernel, error) {
	return wrap(n, func(in, out []*tensor.Tensor) error {
		o := out[0]
		if !sameInts(o.Shape(), intsOf(in[0].AsInt64s())) {
			return fmt.Errorf("output %v does not have the shape %v", o, in[0].AsInt64s())
		}
		if v, ok := n.Attrs["value"]; ok && v.Tensor != nil {
			if v.Tensor.DType() != o.DType() {
				return fmt.Errorf("value is %v but the output is %v", v.Tensor.DType(), o.DType())
			}
			return fillWith(o, v.Tensor.Bytes())
		}
		clear(o.Bytes())
		return nil
	}), nil
}

func newConstant(n *graph.Node, env *Env) (backends.Kernel, error) {
	v, err := ops.ConstantValue(n.Attrs)
	if err != nil {
		return nil, fmt.Errorf("cpu: node %q (Constant): %w", n.Name, err)
	}
	return wrap(n, func(in, out []*tensor.Tensor) error {
		if len(out[0].Bytes()) != len(v.Bytes()) || out[0].DType() != v.DType() {
			return fmt.Errorf("output %v does not match the value %v", out[0], v)
		}
		copy(out[0].Bytes(), v.Bytes())
		return nil
	}), nil
}

func newRange(n *graph.Node, env *Env) (backends.Kernel, error) {
	dt := n.Inputs[0].DType
	return wrap(n, func(in, out []*tensor.Tensor) error {
		o := out[0]
		if dt.IsInteger() {
			start, delta := in[0].Int64At(0), in[2].Int64At(0)
			if dt == tensor.Int64 {
				for i := range o.Int64s() {
					o.Int64s()[i] = start + int64(i)*delta
				}
				return nil
			}
			v := make([]float64, o.Len())
			for i := range v {
				v[i] = float64(start + int64(i)*delta)
			}
			fromFloat64s(o, v)
			return nil
		}
		start, delta := in[0].Float64At(0), in[2].Float64At(0)
		v := make([]float64, o.Len())
		for i := range v {
			v[i] = start + float64(i)*delta
		}
		if dt == tensor.Float32 {
			// Accumulate in float32 like the reference implementations do.
			s, d := float32(start), float32(delta)
			f := o.Float32s()
			for i := range f {
				f[i] = s + float32(i)*d
			}
			return nil
		}
		fromFloat64s(o, v)
		return nil
	}), nil
}
