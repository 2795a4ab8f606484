package passes

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// activationOf returns the FusedMatMul activation a Relu or Gelu node computes.
func activationOf(n *graph.Node) (string, bool) {
	switch {
	case is(n, "Relu"):
		return ops.ActRelu, true
	case is(n, "Gelu"):
		switch n.Attrs.GetString("approximate", "none") {
		case "none":
			return ops.ActGelu, true
		case "tanh":
			return ops.ActGeluTanh, true
		}
	}
	return "", false
}

// MatMulFusion turns MatMul(A, B) followed by Add(bias) and/or Relu or Gelu into
// FusedMatMul(A, B, bias) when B is a float32 matrix and bias has shape [N] or [1, N].
var MatMulFusion = RulePass("matmul-fusion", Rule{Roots: []string{"MatMul"}, Apply: fuseMatMul})

func fuseMatMul(c *Context, mm *graph.Node) (bool, error) {
	a, b := mm.Input(0), mm.Input(1)
	bs, ok := shapeOf(b)
	if !ok || len(bs) != 2 || !isF32(a, b) || rankOf(a) < 1 {
		return false, nil
	}
	n := bs[1]
	matched := []*graph.Node{mm}
	y := out0(mm)
	var bias *graph.Value
	if add := c.SoleConsumer(y); is(add, "Add") {
		if bv := other(add, y); bv != nil && isF32(bv) && isBiasVector(bv, n, max(1, rankOf(y))) {
			bias, y = bv, out0(add)
			matched = append(matched, add)
		}
	}
	act := ""
	if next := c.SoleConsumer(y); next != nil {
		if a, ok := activationOf(next); ok {
			act, y = a, out0(next)
			matched = append(matched, next)
		}
	}
	if len(matched) == 1 {
		return false, nil // a bare MatMul gains nothing
	}
	root := matched[len(matched)-1]
	if !c.CanFuse(root, matched...) {
		return false, nil
	}
	inputs := []*graph.Value{a, b}
	if bias != nil {
		inputs = append(inputs, bias)
	}
	fused := c.NewNode(ops.FusedMatMul, ops.DomainLightOS, mm.Name+"_fused", inputs, []*graph.Value{y}, graph.Attrs{"activation": graph.String(act)})
	c.Replace(matched, fused)
	return true, nil
}

// GemmFusion turns Gemm followed by Relu or Gelu into FusedMatMul where that is the
// same computation: transA 0; alpha 1 or a constant B (scaled here); transB 0 or a
// constant B (transposed here); C absent, or a bias of shape [N] or [1, N] with beta 1
// or constant (scaled here).
var GemmFusion = RulePass("gemm-fusion", Rule{Roots: []string{"Gemm"}, Apply: fuseGemm})

func fuseGemm(c *Context, gm *graph.Node) (bool, error) {
	a, b, bias := gm.Input(0), gm.Input(1), gm.Input(2)
	bs, ok := shapeOf(b)
	if !ok || len(bs) != 2 || rankOf(a) != 2 || !isF32(a, b, bias) || gm.Attrs.GetInt("transA", 0) != 0 {
		return false, nil
	}
	alpha, beta := gm.Attrs.GetFloat("alpha", 1), gm.Attrs.GetFloat("beta", 1)
	transB := gm.Attrs.GetInt("transB", 0) != 0
	if (alpha != 1 || transB) && b.Const == nil {
		return false, nil
	}
	n := bs[1]
	if transB {
		n = bs[0]
	}
	if bias != nil && (!isBiasVector(bias, n, 2) || (beta != 1 && bias.Const == nil)) {
		return false, nil
	}
	act, ok := activationOf(c.SoleConsumer(out0(gm)))
	if !ok {
		return false, nil
	}
	next := c.SoleConsumer(out0(gm))
	if !c.CanFuse(next, gm) {
		return false, nil
	}
	if transB || alpha != 1 {
		b = c.AddConst(b.Name+"_fused", scaledMatrix(b.Const, transB, alpha))
	}
	inputs := []*graph.Value{a, b}
	if bias != nil {
		if beta != 1 {
			bias = c.AddConst(bias.Name+"_fused", scaledMatrix(bias.Const, false, beta))
		}
		inputs = append(inputs, bias)
	}
	fused := c.NewNode(ops.FusedMatMul, ops.DomainLightOS, gm.Name+"_fused", inputs, []*graph.Value{out0(next)}, graph.Attrs{"activation": graph.String(act)})
	c.Replace([]*graph.Node{gm, next}, fused)
	return true, nil
}

// scaledMatrix returns alpha·t (transposed when trans; t is then a matrix) as a new
// float32 tensor.
func scaledMatrix(t *tensor.Tensor, trans bool, alpha float32) *tensor.Tensor {
	src := t.Float32s()
	shape := append([]int(nil), t.Shape()...)
	if !trans {
		out := tensor.New(tensor.Float32, shape)
		for i, v := range src {
			out.Float32s()[i] = v * alpha
		}
		return out
	}
	r, cols := shape[0], shape[1]
	out := tensor.New(tensor.Float32, []int{cols, r})
	dst := out.Float32s()
	for i := 0; i < r; i++ {
		for j := 0; j < cols; j++ {
			dst[j*r+i] = src[i*cols+j] * alpha
		}
	}
	return out
}
