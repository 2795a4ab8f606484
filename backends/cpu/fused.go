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

// Kernels of the fused operators reuse the plain kernels' prepared cores:
// prepareMatMul (matmul.go) and prepareConv (conv.go).

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

// newFusedMatMul: Y = act(A @ B + bias) on the MatMul kernel's prepared core (a
// constant B is packed once; A's batch becomes one tall GEMM), with the bias and
// activation in the GEMM epilogue.
func newFusedMatMul(n *graph.Node, env *Env) (backends.Kernel, error) {
	if err := requireF32(n); err != nil {
		return nil, err
	}
	act, err := gemmActivation(n, ops.ActNone, ops.ActRelu, ops.ActGelu, ops.ActGeluTanh)
	if err != nil {
		return nil, err
	}
	mc, err := prepareMatMul(n, env)
	if err != nil {
		return nil, err
	}
	name := n.Name
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		if bs := in[1].Shape(); len(bs) != 2 {
			return fmt.Errorf("cpu: node %q (FusedMatMul): B has shape %v; it must be a matrix [K, N]", name, bs)
		}
		var bias *tensor.Tensor
		if len(in) > 2 {
			bias = in[2]
		}
		return mc.Run(in[0], in[1], out[0], bias, act)
	}), nil
}

// newFusedConv prepares Conv + activation on the Conv kernel's prepared core
// (constant weights packed once): Relu runs in the GEMM epilogue, LeakyRelu once per
// output plane right after the convolution. float32 and float64, 1 to 3 spatial axes,
// as Conv.
func newFusedConv(n *graph.Node, env *Env) (backends.Kernel, error) {
	var epi convEpilogue
	if n.Attrs.GetString("activation", "") == ops.ActLeakyRelu {
		alpha := n.Attrs.GetFloat("alpha", 0.01)
		epi.Post32 = func(_, _ int, plane []float32) {
			for i, v := range plane {
				if v < 0 {
					plane[i] = v * alpha
				}
			}
		}
		a64 := float64(alpha)
		epi.Post64 = func(_, _ int, plane []float64) {
			for i, v := range plane {
				if v < 0 {
					plane[i] = v * a64
				}
			}
		}
	} else {
		act, err := gemmActivation(n, ops.ActNone, ops.ActRelu)
		if err != nil {
			return nil, err
		}
		epi.Act = act
	}
	c, err := prepareConv(n, env)
	if err != nil {
		return nil, err
	}
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		e := epi
		if len(in) > 2 {
			e.Bias = in[2]
		}
		if len(in) > 3 && in[3] != nil {
			r, err := residualEpilogue(e, in[3], out[0])
			if err != nil {
				return fmt.Errorf("cpu: node %q (FusedConv): %w", n.Name, err)
			}
			e = r
		}
		return c.run(env, in[0], in[1], out[0], e)
	}), nil
}

// residualEpilogue adds residual res to e after checking that it has the output
// y's shape and dtype (the convolution core adds it before the activation).
func residualEpilogue(e convEpilogue, res, y *tensor.Tensor) (convEpilogue, error) {
	if res.DType() != y.DType() || fmt.Sprint(res.Shape()) != fmt.Sprint(y.Shape()) {
		return e, fmt.Errorf("residual %v, expected %v%v like the output", res, y.DType(), y.Shape())
	}
	e.Residual = res
	return e, nil
}
