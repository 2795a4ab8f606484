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
	// Optional pre-scaled query and transposed key, dropped from the match when they
	// have other readers.
	var qScale *graph.Node
	qScaled, qFactor := q, 1.0
	if sc := producedBy(q, "Mul", "Div"); sc != nil {
		if x, f, ok := scaleOf(sc); ok {
			qScale, qScaled, qFactor = sc, x, f
		}
	}
	var kTrans *graph.Node
	kPlain := kt
	if tr := producedBy(kt, "Transpose"); tr != nil && rankOf(kt) == r {
		perm := permOf(tr, r)
		want := make([]int, r)
		for i := range want {
			want[i] = i
		}
		want[r-2], want[r-1] = r-1, r-2
		if equalInts(perm, want) {
			kTrans, kPlain = tr, tr.Input(0)
		}
	}
	root := pv
	for _, withQ := range []bool{true, false} {
		for _, withK := range []bool{true, false} {
			if (withQ && qScale == nil) || (withK && kTrans == nil) {
				continue
			}
			m := append([]*graph.Node(nil), matched...)
			qv, sc, k, tk := q, scale, kt, int64(1)
			if withQ {
				m, qv, sc = append(m, qScale), qScaled, scale*qFactor
			}
			if withK {
				m, k, tk = append(m, kTrans), kPlain, 0
			}
			if !attentionShapesOK(qv, k, v, mask, tk != 0) || !c.CanFuse(root, m...) {
				continue
			}
			inputs := []*graph.Value{qv, k, v}
			if mask != nil {
				inputs = append(inputs, mask)
			}
			attrs := graph.Attrs{"scale": graph.Float(float32(sc)), "transpose_k": graph.Int(tk),
				"num_heads": graph.Int(0), "causal": graph.Int(0)}
			fused := c.NewNode(ops.Attention, ops.DomainLightOS, sm.Name+"_attention", inputs, []*graph.Value{out0(pv)}, attrs)
			c.Replace(m, fused)
			return true, nil
		}
	}
	return false, nil
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
