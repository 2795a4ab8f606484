package passes

import (
	"math"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// BatchNormFolding folds an inference BatchNormalization into the preceding Conv's
// constant weights and bias: with s = scale/sqrt(var+epsilon),
//
//	W'[m] = W[m]·s[m]        B'[m] = (B[m] - mean[m])·s[m] + bias[m]
//
// computed in float64. It needs float32 constant weights, bias and statistics of one
// value per output channel, and leaves a Conv (which ConvActivation may then fuse).
var BatchNormFolding = RulePass("batchnorm-fold", Rule{Roots: []string{"Conv"}, Apply: foldBatchNorm})

func foldBatchNorm(c *Context, conv *graph.Node) (bool, error) {
	w, b := conv.Input(1), conv.Input(2)
	if w == nil || w.Const == nil || (b != nil && b.Const == nil) || !isF32(conv.Input(0), w, b) {
		return false, nil
	}
	ws := w.Const.Shape()
	if len(ws) < 3 {
		return false, nil
	}
	m := ws[0]
	bn := c.SoleConsumer(out0(conv))
	if !is(bn, "BatchNormalization") || bn.Input(0) != out0(conv) || bn.Attrs.GetInt("training_mode", 0) != 0 {
		return false, nil
	}
	params := make([][]float64, 4) // scale, bias, mean, var
	for i := range params {
		v := bn.Input(i + 1)
		if v == nil || v.Const == nil || !isF32(v) || len(v.Const.Shape()) != 1 || v.Const.Len() != m {
			return false, nil
		}
		params[i] = v.Const.AsFloat64s()
	}
	if !c.CanFuse(bn, conv) {
		return false, nil
	}
	eps := float64(bn.Attrs.GetFloat("epsilon", 1e-5))
	per := w.Const.Len() / max(m, 1)
	nw := tensor.New(tensor.Float32, ws)
	src, dst := w.Const.Float32s(), nw.Float32s()
	nb := tensor.New(tensor.Float32, []int{m})
	for o := 0; o < m; o++ {
		s := params[0][o] / math.Sqrt(params[3][o]+eps)
		for i := o * per; i < (o+1)*per; i++ {
			dst[i] = float32(float64(src[i]) * s)
		}
		bias := 0.0
		if b != nil {
			bias = b.Const.Float64At(o)
		}
		nb.Float32s()[o] = float32((bias-params[2][o])*s + params[1][o])
	}
	inputs := []*graph.Value{conv.Input(0), c.AddConst(w.Name+"_bn", nw), c.AddConst(conv.Name+"_bn_bias", nb)}
	folded := c.NewNode("Conv", conv.Domain, conv.Name+"_bn", inputs, []*graph.Value{out0(bn)}, conv.Attrs.Clone())
	c.Replace([]*graph.Node{conv, bn}, folded)
	return true, nil
}

// ConvActivation turns a float32 or float64 Conv (1 to 3 spatial axes) followed by
// Relu or LeakyRelu into FusedConv, the activation applied in the convolution's
// epilogue (Relu inside the float32 GEMM's, LeakyRelu right after each output plane).
var ConvActivation = RulePass("conv-activation", Rule{Roots: []string{"Conv"}, Apply: fuseConvAct})

func fuseConvAct(c *Context, conv *graph.Node) (bool, error) {
	x, w := conv.Input(0), conv.Input(1)
	if r := rankOf(x); r < 3 || r > 5 || rankOf(w) != r || (x.DType != tensor.Float32 && x.DType != tensor.Float64) ||
		w.DType != x.DType || (conv.Input(2) != nil && conv.Input(2).DType != x.DType) {
		return false, nil
	}
	act := c.SoleConsumer(out0(conv))
	attrs := conv.Attrs.Clone()
	switch {
	case is(act, "Relu"):
		attrs["activation"] = graph.String(ops.ActRelu)
	case is(act, "LeakyRelu"):
		attrs["activation"] = graph.String(ops.ActLeakyRelu)
		attrs["alpha"] = graph.Float(act.Attrs.GetFloat("alpha", 0.01))
	default:
		return false, nil
	}
	if !c.CanFuse(act, conv) {
		return false, nil
	}
	fused := c.NewNode(ops.FusedConv, ops.DomainLightOS, conv.Name+"_fused", append([]*graph.Value(nil), conv.Inputs...), []*graph.Value{out0(act)}, attrs)
	c.Replace([]*graph.Node{conv, act}, fused)
	return true, nil
}
