package passes

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
)

// LayerNormAttentionFusion turns a LayerNormalization over the last axis of a
// [B, S, C] tensor whose output feeds only the Q, K and V projections of one
// Attention node (transpose_k 0), each projection MatMul(Xn, W) with an optional
// Add(bias) or a FusedMatMul without activation, into one LayerNormAttention node.
var LayerNormAttentionFusion = RulePass("layernorm-attention", Rule{Roots: []string{ops.Attention}, Domain: ops.DomainLightOS, Apply: fuseLNAttention})

// projection matches v = Xn @ W (+ bias) and returns Xn, W, bias and the nodes.
func projection(c *Context, v *graph.Value) (xn, w, bias *graph.Value, nodes []*graph.Node, ok bool) {
	if n := v.Producer; n != nil && n.Domain == ops.DomainLightOS && n.Op == ops.FusedMatMul {
		if n.Attrs.GetString("activation", "") != "" {
			return nil, nil, nil, nil, false
		}
		return n.Input(0), n.Input(1), n.Input(2), []*graph.Node{n}, true
	}
	if add := producedBy(v, "Add"); add != nil {
		for i := 0; i < 2; i++ {
			if mm := producedBy(add.Input(i), "MatMul"); mm != nil {
				ws, okw := shapeOf(mm.Input(1))
				if okw && len(ws) == 2 && isBiasVector(add.Input(1-i), ws[1], 1) {
					return mm.Input(0), mm.Input(1), add.Input(1 - i), []*graph.Node{mm, add}, true
				}
			}
		}
		return nil, nil, nil, nil, false
	}
	if mm := producedBy(v, "MatMul"); mm != nil {
		return mm.Input(0), mm.Input(1), nil, []*graph.Node{mm}, true
	}
	return nil, nil, nil, nil, false
}

func fuseLNAttention(c *Context, at *graph.Node) (bool, error) {
	if at.Attrs.GetInt("transpose_k", 0) != 0 || rankOf(at.Input(0)) != 3 {
		return false, nil
	}
	matched := []*graph.Node{at}
	inputs := make([]*graph.Value, 10)
	var xn *graph.Value
	for j := 0; j < 3; j++ {
		x, w, b, nodes, ok := projection(c, at.Input(j))
		if !ok || (xn != nil && x != xn) || rankOf(w) != 2 {
			return false, nil
		}
		xn = x
		inputs[3+2*j], inputs[4+2*j] = w, b
		matched = append(matched, nodes...)
	}
	ln := producedBy(xn, "LayerNormalization")
	if ln == nil || rankOf(ln.Input(0)) != 3 {
		return false, nil
	}
	if ax := ln.Attrs.GetInt("axis", -1); ax != -1 && ax != 2 {
		return false, nil
	}
	width := ln.Input(0).Shape[2]
	if !width.Known() || !isF32(ln.Input(0), ln.Input(1), ln.Input(2)) {
		return false, nil
	}
	for i := 1; i <= 2; i++ {
		if g := ln.Input(i); g != nil && !isBiasVector(g, int(width.Size), 2) {
			return false, nil
		}
	}
	matched = append(matched, ln)
	if !c.CanFuse(at, matched...) {
		return false, nil
	}
	inputs[0], inputs[1], inputs[2] = ln.Input(0), ln.Input(1), ln.Input(2)
	if m := at.Input(3); m != nil {
		inputs[9] = m
	} else {
		inputs = inputs[:9]
	}
	attrs := graph.Attrs{
		"epsilon":   graph.Float(ln.Attrs.GetFloat("epsilon", 1e-5)),
		"num_heads": graph.Int(at.Attrs.GetInt("num_heads", 0)),
		"causal":    graph.Int(at.Attrs.GetInt("causal", 0)),
		"scale":     graph.Float(at.Attrs.GetFloat("scale", 0)),
	}
	fused := c.NewNode(ops.LayerNormAttention, ops.DomainLightOS, ln.Name+"_attention", inputs, []*graph.Value{out0(at)}, attrs)
	c.Replace(matched, fused)
	return true, nil
}
