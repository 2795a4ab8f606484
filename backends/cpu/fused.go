package cpu

import (
	"context"
	"fmt"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/cpu/gemm"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// Kernels of the fused operators the optimizer produces (their meaning is defined in
// engine/ops/fused.go). FusedMatMul and FusedConv run on package gemm with the bias
// and activation in the GEMM epilogue, so the output is written once.

func init() {
	register(ops.DomainLightOS, ops.FusedMatMul, newFusedMatMul)
	register(ops.DomainLightOS, ops.FusedConv, newFusedConv)
}

// gemmActivation maps a fused operator's activation attribute to the epilogue.
func gemmActivation(n *graph.Node, allowed ...string) (gemm.Activation, error) {
	act := n.Attrs.GetString("activation", "")
	ok := false
	for _, a := range allowed {
		if a == act {
			ok = true
		}
	}
	if !ok {
		return 0, unsupported(n, "activation %q", act)
	}
	switch act {
	case ops.ActRelu:
		return gemm.ActReLU, nil
	case ops.ActGelu:
		return gemm.ActGELU, nil
	case ops.ActGeluTanh:
		return gemm.ActGELUTanh, nil
	}
	return gemm.ActNone, nil
}

func requireF32(n *graph.Node) error {
	for i, v := range n.Inputs {
		if v != nil && v.DType != tensor.Float32 {
			return unsupported(n, "input %d is %v (float32 only)", i, v.DType)
		}
	}
	return nil
}

// newFusedMatMul: Y = act(A @ B + bias), A flattened to rows (B is one matrix), one
// GEMM call with the bias and activation in its epilogue.
func newFusedMatMul(n *graph.Node, env *Env) (backends.Kernel, error) {
	if err := requireF32(n); err != nil {
		return nil, err
	}
	act, err := gemmActivation(n, ops.ActNone, ops.ActRelu, ops.ActGelu, ops.ActGeluTanh)
	if err != nil {
		return nil, err
	}
	name := n.Name
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		a, b, y := in[0], in[1], out[0]
		as, bs := a.Shape(), b.Shape()
		if len(bs) != 2 || len(as) == 0 || as[len(as)-1] != bs[0] {
			return fmt.Errorf("cpu: node %q (FusedMatMul): A %v and B %v do not multiply (B must be [K, N])", name, as, bs)
		}
		k, nn := bs[0], bs[1]
		m := 1
		for _, d := range as[:len(as)-1] {
			m *= d
		}
		if y.Len() != m*nn {
			return fmt.Errorf("cpu: node %q (FusedMatMul): output %v, expected %d elements", name, y, m*nn)
		}
		var bias []float32
		if len(in) > 2 && in[2] != nil {
			if in[2].Len() != nn {
				return fmt.Errorf("cpu: node %q (FusedMatMul): bias has %d values, expected %d", name, in[2].Len(), nn)
			}
			bias = in[2].Float32s()
		}
		if m == 0 || nn == 0 {
			return nil
		}
		ys := y.Float32s()
		if k == 0 {
			clear(ys)
			for i := 0; i < m; i++ {
				gemm.AddBiasAct(ys[i*nn:(i+1)*nn], bias, act)
			}
			return nil
		}
		return sgemm(env, gemm.Params{M: m, N: nn, K: k, A: a.Float32s(), B: b.Float32s(), C: ys, Bias: bias, Act: act})
	}), nil
}

// fusedConv is a prepared FusedConv node.
type fusedConv struct {
	name   string
	attrs  graph.Attrs
	act    gemm.Activation
	leaky  bool
	alpha  float32
	packed *gemm.PackedWeights // weights packed once when they are constant
}

// newFusedConv prepares a 1-D or 2-D convolution with its activation; constant
// weights are packed once here.
func newFusedConv(n *graph.Node, env *Env) (backends.Kernel, error) {
	if err := requireF32(n); err != nil {
		return nil, err
	}
	f := &fusedConv{name: n.Name, attrs: n.Attrs}
	if n.Attrs.GetString("activation", "") == ops.ActLeakyRelu {
		f.leaky, f.alpha = true, n.Attrs.GetFloat("alpha", 0.01)
	} else {
		act, err := gemmActivation(n, ops.ActNone, ops.ActRelu)
		if err != nil {
			return nil, err
		}
		f.act = act
	}
	w := n.Inputs[1]
	if w.HasShape && len(w.Shape) != 3 && len(w.Shape) != 4 {
		return nil, unsupported(n, "weights of shape %v (1-D and 2-D convolutions only)", w.Shape)
	}
	if w.Const != nil && (len(w.Const.Shape()) == 3 || len(w.Const.Shape()) == 4) {
		// Only the weight dimensions matter for packing.
		ws := w.Const.Shape()
		s := gemm.Conv2DShape{M: ws[0], C: ws[1] * int(n.Attrs.GetInt("group", 1)), Group: int(n.Attrs.GetInt("group", 1)), KH: 1, KW: ws[len(ws)-1]}
		if len(ws) == 4 {
			s.KH = ws[2]
		}
		var err error
		if f.packed, err = gemm.PackConv2DWeights(env.GEMM(), s, w.Const.Float32s()); err != nil {
			return nil, fmt.Errorf("cpu: node %q (FusedConv): %w", n.Name, err)
		}
	}
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		if err := f.run(env, in, out[0]); err != nil {
			return fmt.Errorf("cpu: node %q (FusedConv): %w", f.name, err)
		}
		return nil
	}), nil
}

// shape resolves the convolution for input shape xs and weight shape ws, mapping a
// 1-D convolution onto a 2-D one of height 1.
func (f *fusedConv) shape(xs, ws []int) (gemm.Conv2DShape, error) {
	if len(xs) != len(ws) || (len(xs) != 3 && len(xs) != 4) {
		return gemm.Conv2DShape{}, fmt.Errorf("input %v and weights %v: expected 1-D or 2-D convolution shapes", xs, ws)
	}
	g, err := ops.ConvGeometry(f.attrs, xs[2:], ws[2:])
	if err != nil {
		return gemm.Conv2DShape{}, err
	}
	if xs[1] != ws[1]*g.Group || ws[0]%g.Group != 0 {
		return gemm.Conv2DShape{}, fmt.Errorf("input %v, weights %v and group %d disagree", xs, ws, g.Group)
	}
	s := gemm.Conv2DShape{N: xs[0], C: xs[1], M: ws[0], Group: g.Group, H: 1, KH: 1, StrideH: 1, DilationH: 1}
	last := len(g.In) - 1
	s.W, s.KW, s.StrideW, s.DilationW = g.In[last], g.Kernel[last], g.Strides[last], g.Dilations[last]
	s.PadLeft, s.PadRight = g.PadsBegin[last], g.PadsEnd[last]
	if last == 1 {
		s.H, s.KH, s.StrideH, s.DilationH = g.In[0], g.Kernel[0], g.Strides[0], g.Dilations[0]
		s.PadTop, s.PadBottom = g.PadsBegin[0], g.PadsEnd[0]
	}
	// auto_pad SAME_* may give an output one larger than the explicit-pad formula;
	// ConvGeometry's pads already reproduce it, so the sizes agree.
	return s, nil
}

func (f *fusedConv) run(env *Env, in []*tensor.Tensor, y *tensor.Tensor) error {
	x, w := in[0], in[1]
	s, err := f.shape(x.Shape(), w.Shape())
	if err != nil {
		return err
	}
	want := s.N * s.M * s.OutH() * s.OutW()
	if y.Len() != want {
		return fmt.Errorf("output %v, expected %d elements", y, want)
	}
	var bias []float32
	if len(in) > 2 && in[2] != nil {
		if in[2].Len() != s.M {
			return fmt.Errorf("bias has %d values, expected %d", in[2].Len(), s.M)
		}
		bias = in[2].Float32s()
	}
	if want == 0 {
		return nil
	}
	pw := f.packed
	if pw == nil {
		if pw, err = gemm.PackConv2DWeights(env.GEMM(), s, w.Float32s()); err != nil {
			return err
		}
	}
	p := gemm.Conv2DParams{Conv2DShape: s, X: x.Float32s(), W: pw, Bias: bias, Act: f.act, Y: y.Float32s()}
	if err := gemm.Conv2D(env.GEMM(), p); err != nil {
		return err
	}
	if f.leaky {
		ys, a := y.Float32s(), f.alpha
		env.Parallel(len(ys), 32768, func(lo, hi int) {
			for i, v := range ys[lo:hi] {
				if v < 0 {
					ys[lo+i] = v * a
				}
			}
		})
	}
	return nil
}
