package cpu

import (
	"context"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// The neural-network kernels compute in float32 or float64. For float16 and
// bfloat16 nodes, viaFloat32 runs the float32 kernel on widened copies of the inputs
// and narrows the outputs back (rounding to nearest even), so half-precision models
// run everywhere at float32 accuracy. Every NN kernel registers through it.
func halfDType(dt tensor.DType) bool { return dt == tensor.Float16 || dt == tensor.BFloat16 }

// viaFloat32 wraps f: nodes without half-precision inputs go to f unchanged.
func viaFloat32(f Factory) Factory {
	return func(n *graph.Node, env *Env) (backends.Kernel, error) {
		half := false
		for _, v := range n.Inputs {
			half = half || (v != nil && halfDType(v.DType))
		}
		if !half {
			return f(n, env)
		}
		// A float32 twin of the node: same attributes, float32 types, widened constants.
		twin := &graph.Node{Name: n.Name, Op: n.Op, Domain: n.Domain, Attrs: n.Attrs}
		for _, v := range n.Inputs {
			if v == nil {
				twin.Inputs = append(twin.Inputs, nil)
				continue
			}
			w := &graph.Value{Name: v.Name, Type: v.Type}
			if halfDType(v.DType) {
				w.DType = tensor.Float32
				if v.Const != nil {
					w.Const = widenHalf(v.Const)
				}
			} else {
				w.Const = v.Const
			}
			twin.Inputs = append(twin.Inputs, w)
		}
		outHalf := make([]bool, len(n.Outputs))
		for i, v := range n.Outputs {
			if v == nil {
				twin.Outputs = append(twin.Outputs, nil)
				continue
			}
			w := &graph.Value{Name: v.Name, Type: v.Type, Producer: twin}
			if halfDType(v.DType) {
				w.DType, outHalf[i] = tensor.Float32, true
			}
			twin.Outputs = append(twin.Outputs, w)
		}
		inner, err := f(twin, env)
		if err != nil {
			return nil, err
		}
		return backends.KernelFunc(func(ctx context.Context, in, out []*tensor.Tensor) error {
			in32 := make([]*tensor.Tensor, len(in))
			for i, t := range in {
				if t != nil && halfDType(t.DType()) {
					t = widenHalf(t)
				}
				in32[i] = t
			}
			out32 := make([]*tensor.Tensor, len(out))
			for i, t := range out {
				if t != nil && i < len(outHalf) && outHalf[i] {
					t = tensor.New(tensor.Float32, t.Shape())
				}
				out32[i] = t
			}
			if err := inner.Run(ctx, in32, out32); err != nil {
				return err
			}
			for i, t := range out {
				if t != nil && i < len(outHalf) && outHalf[i] {
					narrowHalf(out32[i], t)
				}
			}
			return nil
		}), nil
	}
}

func widenHalf(t *tensor.Tensor) *tensor.Tensor {
	w := tensor.New(tensor.Float32, t.Shape())
	dst := w.Float32s()
	if t.DType() == tensor.BFloat16 {
		for i, h := range t.Halfs() {
			dst[i] = tensor.BFloat16ToFloat32(h)
		}
		return w
	}
	for i, h := range t.Halfs() {
		dst[i] = tensor.Float16ToFloat32(h)
	}
	return w
}

func narrowHalf(src, dst *tensor.Tensor) {
	s, d := src.Float32s(), dst.Halfs()
	if dst.DType() == tensor.BFloat16 {
		for i, v := range s {
			d[i] = tensor.Float32ToBFloat16(v)
		}
		return
	}
	for i, v := range s {
		d[i] = tensor.Float32ToFloat16(v)
	}
}
