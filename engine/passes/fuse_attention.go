package passes

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
)

// AttentionFusion turns scaled dot-product attention subgraphs,
//
//	S = MatMul(Q', Kt)        Q' = Q, or Mul(Q, c) / Div(Q, c) (a pre-scaled query)
//	                          Kt = Transpose(K) swapping the last two axes, or any [..., D, Sk]
//	S' = Mul(S, c) or Div(S, c) (optional)    S'' = Add(S', mask) (optional)
//	Y = MatMul(Softmax(S'', last axis), V)
//
// into Attention(Q, K, V, [mask]) with the scales multiplied into the scale attribute
// (1 when there is none) and transpose_k 1 when K was not a matching Transpose. Q, K
// and V must be float32 of one rank with equal leading dimensions.
var AttentionFusion = RulePass("attention", Rule{Roots: []string{"Softmax"}, Apply: fuseAttention})

// scaleOf matches Mul(x, c) or Div(x, c) by a constant scalar c, returning x and the
// factor.
func scaleOf(n *graph.Node) (*graph.Value, float64, bool) {
	switch {
	case is(n, "Mul"):
		for i := 0; i < 2; i++ {
			if s, ok := constScalar(n.Input(i)); ok {
				return n.Input(1 - i), s, true
			}
		}
	case is(n, "Div"):
		if s, ok := constScalar(n.Input(1)); ok && s != 0 {
			return n.Input(0), 1 / s, true
		}
	}
	return nil, 0, false
}

func fuseAttention(c *Context, sm *graph.Node) (bool, error) {
	p := out0(sm)
	pv := c.SoleConsumer(p)
	if !is(pv, "MatMul") || pv.Input(0) != p {
		return false, nil
	}
	r := rankOf(p)
	if r < 2 {
		return false, nil
	}
	// Softmax over the last axis only (before opset 13 the default axis is 1 and the
	// trailing axes are flattened, which is the last axis only when axis is r-1).
	def := int64(-1)
	if o := ops.NodeOpset(sm, c.G.Opset); o > 0 && o < 13 {
		def = 1
	}
	if ax, err := ops.NormAxis(sm.Attrs.GetInt("axis", def), r); err != nil || ax != r-1 {
		return false, nil
	}
	matched := []*graph.Node{sm, pv}
	s := sm.Input(0)
	var mask *graph.Value
	scale := 1.0
	if add := producedBy(s, "Add"); add != nil {
		// The scores side is the one produced by a scale or the QK MatMul.
		for i := 0; i < 2; i++ {
			if producedBy(add.Input(i), "Mul", "Div", "MatMul") != nil {
				s, mask = add.Input(i), add.Input(1-i)
				break
			}
		}
		if mask == nil {
			return false, nil
		}
		matched = append(matched, add)
	}
	if sc := producedBy(s, "Mul", "Div"); sc != nil {
		x, f, ok := scaleOf(sc)
		if !ok {
			return false, nil
		}
		s, scale = x, scale*f
		matched = append(matched, sc)
	}
	qk := producedBy(s, "MatMul")
	if qk == nil {
		return false, nil
	}
	matched = append(matched, qk)
	q, kt, v := qk.Input(0), qk.Input(1), pv.Input(1)
	// Optional absorptions, tried from the most absorbed to none, so that a node with
	// other readers drops out of the match instead of blocking it: a scaled query
	// (Mul/Div by a constant), and a key that is scaled, transposed (last two axes),
	// or both, in either order.
	qs := []operand{{v: q}}
	if sc := producedBy(q, "Mul", "Div"); sc != nil {
		if x, f, ok := scaleOf(sc); ok {
			qs = append(qs, operand{v: x, factor: f, nodes: []*graph.Node{sc}})
		}
	}
	ks := []operand{{v: kt, transK: true}}
	cur := operand{v: kt, transK: true, factor: 1}
	absorbScale := func() {
		if sc := producedBy(cur.v, "Mul", "Div"); sc != nil {
			if x, f, ok := scaleOf(sc); ok {
				cur = operand{v: x, transK: cur.transK, factor: cur.factor * f, nodes: append(append([]*graph.Node(nil), cur.nodes...), sc)}
				ks = append(ks, cur)
			}
		}
	}
	absorbScale()
	if tr := producedBy(cur.v, "Transpose"); tr != nil && rankOf(cur.v) == r && isLastTwoSwap(permOf(tr, r)) {
		cur = operand{v: tr.Input(0), factor: cur.factor, nodes: append(append([]*graph.Node(nil), cur.nodes...), tr)}
		ks = append(ks, cur)
		absorbScale()
	}
	for qi := len(qs) - 1; qi >= 0; qi-- {
		for ki := len(ks) - 1; ki >= 0; ki-- {
			qo, ko := qs[qi], ks[ki]
			m := append(append(append([]*graph.Node(nil), matched...), qo.nodes...), ko.nodes...)
			if !attentionShapesOK(qo.v, ko.v, v, mask, ko.transK) || !c.CanFuse(pv, m...) {
				continue
			}
			tk := int64(0)
			if ko.transK {
				tk = 1
			}
			inputs := []*graph.Value{qo.v, ko.v, v}
			if mask != nil {
				inputs = append(inputs, mask)
			}
			attrs := graph.Attrs{"scale": graph.Float(float32(scale * qo.scale() * ko.scale())), "transpose_k": graph.Int(tk),
				"num_heads": graph.Int(0), "causal": graph.Int(0)}
			fused := c.NewNode(ops.Attention, ops.DomainLightOS, sm.Name+"_attention", inputs, []*graph.Value{out0(pv)}, attrs)
			c.Replace(m, fused)
			return true, nil
		}
	}
	return false, nil
}

// operand is one way of reading Q or K through the nodes in front of it.
type operand struct {
	v      *graph.Value
	transK bool    // K is [..., D, Sk]
	factor float64 // 0 means 1
	nodes  []*graph.Node
}

func (o operand) scale() float64 {
	if o.factor == 0 {
		return 1
	}
	return o.factor
}

// isLastTwoSwap reports whether perm swaps the last two axes and keeps the others.
func isLastTwoSwap(perm []int) bool {
	r := len(perm)
	if r < 2 {
		return false
	}
	for i := 0; i < r-2; i++ {
		if perm[i] != i {
			return false
		}
	}
	return perm[r-2] == r-1 && perm[r-1] == r-2
}

// attentionShapesOK checks what the Attention schema requires of the operands, on
// shapes that may hold symbolic dimensions (a dynamic batch): one rank, the same
// leading dimensions (equal sizes or the same symbol), a known head width D that K
// matches, V with as many rows as K has keys, and a mask that broadcasts to the scores.
func attentionShapesOK(q, k, v, mask *graph.Value, transK bool) bool {
	if !isF32(q, k, v, mask) || rankOf(q) < 2 || rankOf(k) != rankOf(q) || rankOf(v) != rankOf(q) {
		return false
	}
	r := rankOf(q)
	qs, ks, vs := q.Shape, k.Shape, v.Shape
	same := func(a, b graph.Dim) bool { return a == b && (a.Known() || a.Param != "") }
	for i := 0; i < r-2; i++ {
		if !same(qs[i], ks[i]) || !same(qs[i], vs[i]) {
			return false
		}
	}
	kS, kD := ks[r-2], ks[r-1]
	if transK {
		kS, kD = kD, kS
	}
	if !qs[r-1].Known() || !same(qs[r-1], kD) || !same(vs[r-2], kS) {
		return false
	}
	if mask != nil {
		if rankOf(mask) < 0 || rankOf(mask) > r {
			return false
		}
		scores := append(append(graph.Shape{}, qs[:r-2]...), qs[r-2], kS)
		off := r - rankOf(mask)
		for i, d := range mask.Shape {
			if !(d.Known() && d.Size == 1) && !same(d, scores[off+i]) {
				return false
			}
		}
	}
	return true
}
