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

// viaFloat32Int8 extends viaFloat32 to int8 and uint8 (exact in float32), for the
// operators whose integer form only compares values (MaxPool).
func viaFloat32Int8(f Factory) Factory { return widenFactory(f, true) }

// viaFloat32 wraps f: nodes without half-precision inputs go to f unchanged.
func viaFloat32(f Factory) Factory { return widenFactory(f, false) }

func widenFactory(f Factory, int8s bool) Factory {
	widened := func(dt tensor.DType) bool {
		return halfDType(dt) || (int8s && (dt == tensor.Int8 || dt == tensor.Uint8))
	}
	return func(n *graph.Node, env *Env) (backends.Kernel, error) {
		half := false
		for _, v := range n.Inputs {
			half = half || (v != nil && widened(v.DType))
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
			if widened(v.DType) {
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
			if widened(v.DType) {
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
				if t != nil && widened(t.DType()) {
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
	switch t.DType() {
	case tensor.Int8:
		for i, v := range t.Int8s() {
			dst[i] = float32(v)
		}
		return w
	case tensor.Uint8:
		for i, v := range t.Uint8s() {
			dst[i] = float32(v)
		}
		return w
	}
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
	switch dst.DType() {
	case tensor.Int8:
		d := dst.Int8s()
		for i, v := range src.Float32s() {
			d[i] = int8(v)
		}
		return
	case tensor.Uint8:
		d := dst.Uint8s()
		for i, v := range src.Float32s() {
			d[i] = uint8(v)
		}
		return
	}
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
