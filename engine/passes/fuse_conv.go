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

// ConvResidual turns a float32 or float64 Conv (1 to 3 spatial axes) whose only reader
// is an Add with another tensor of exactly the Conv output's shape and dtype (a
// residual connection, as before each ReLU of a ResNet block), and that Add's Relu or
// LeakyRelu when it is the Add's only reader, into one FusedConv whose fourth input is
// the residual: act(Conv(X, W, B) + residual). The Add's other operand must have a
// static shape equal to the Conv output's (symbolic dimensions equal by name), so the
// Add does no broadcasting.
var ConvResidual = RulePass("conv-residual", Rule{Roots: []string{"Conv"}, Apply: fuseConvResidual})

func fuseConvResidual(c *Context, conv *graph.Node) (bool, error) {
	x, w, b := conv.Input(0), conv.Input(1), conv.Input(2)
	if r := rankOf(x); r < 3 || r > 5 || rankOf(w) != r || (x.DType != tensor.Float32 && x.DType != tensor.Float64) ||
		w.DType != x.DType || (b != nil && b.DType != x.DType) {
		return false, nil
	}
	y := out0(conv)
	add := c.SoleConsumer(y)
	if !is(add, "Add") {
		return false, nil
	}
	res := other(add, y)
	if res == nil || !sameStaticShape(res, y) || !sameStaticShape(out0(add), y) {
		return false, nil
	}
	matched := []*graph.Node{conv, add}
	out := out0(add)
	attrs := conv.Attrs.Clone()
	// The activation joins when the sum is read by it alone (else the sum is kept).
	if act := c.SoleConsumer(out); is(act, "Relu", "LeakyRelu") && c.CanFuse(act, conv, add) {
		attrs["activation"] = graph.String(ops.ActRelu)
		if act.Op == "LeakyRelu" {
			attrs["activation"] = graph.String(ops.ActLeakyRelu)
			attrs["alpha"] = graph.Float(act.Attrs.GetFloat("alpha", 0.01))
		}
		matched, out = append(matched, act), out0(act)
	} else if !c.CanFuse(add, conv) {
		return false, nil
	}
	fused := c.NewNode(ops.FusedConv, ops.DomainLightOS, conv.Name+"_residual", []*graph.Value{x, w, b, res}, []*graph.Value{out}, attrs)
	c.Replace(matched, fused)
	return true, nil
}

// sameStaticShape reports whether v has y's dtype and shape, every dimension known or
// named (two unnamed unknown dimensions may differ).
func sameStaticShape(v, y *graph.Value) bool {
	if v == nil || y == nil || !v.HasShape || !y.HasShape || v.DType != y.DType || !v.Shape.Equal(y.Shape) {
		return false
	}
	for _, d := range v.Shape {
		if !d.Known() && d.Param == "" {
			return false
		}
	}
	return true
}
