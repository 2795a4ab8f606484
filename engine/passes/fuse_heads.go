package passes

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
)

// AttentionHeads absorbs the head split and merge around an Attention node on split
// inputs:
//
//	Q = Transpose(Reshape(Qp, [B, S, H, D]), perm [0, 2, 1, 3])      (likewise V)
//	K = the same, or Transpose(Reshape(Kp, ...), perm [0, 2, 3, 1]) with transpose_k 1
//	Y = Reshape(Transpose(Attention(Q, K, V, mask), perm [0, 2, 1, 3]), [B, S, H·Dv])
//
// becomes Attention(Qp, Kp, Vp, mask) with num_heads H on the [B, S, E] projections,
// so no transposed copies of Q, K, V or the output are made.
var AttentionHeads = RulePass("attention-heads", Rule{Roots: []string{ops.Attention}, Domain: ops.DomainLightOS, Apply: fuseHeads})

// splitHeads matches Transpose(Reshape(p, [B, S, H, D]), perm) and returns p, H and
// the two nodes.
func splitHeads(v *graph.Value, perm []int) (*graph.Value, int, []*graph.Node, bool) {
	tr := producedBy(v, "Transpose")
	if tr == nil || !equalInts(permOf(tr, 4), perm) {
		return nil, 0, nil, false
	}
	rs := producedBy(tr.Input(0), "Reshape")
	if rs == nil {
		return nil, 0, nil, false
	}
	// B and S may be symbolic (the same names on both sides); E, H and D are known.
	p, split := rs.Input(0), out0(rs)
	if rankOf(p) != 3 || rankOf(split) != 4 {
		return nil, 0, nil, false
	}
	ps, ss := p.Shape, split.Shape
	if !sameDim(ps[0], ss[0]) || !sameDim(ps[1], ss[1]) || !ps[2].Known() || !ss[2].Known() || !ss[3].Known() || ps[2].Size != ss[2].Size*ss[3].Size {
		return nil, 0, nil, false
	}
	return p, int(ss[2].Size), []*graph.Node{rs, tr}, true
}

func fuseHeads(c *Context, at *graph.Node) (bool, error) {
	if at.Attrs.GetInt("num_heads", 0) != 0 || rankOf(at.Input(0)) != 4 {
		return false, nil
	}
	bhsd := []int{0, 2, 1, 3}
	q, h, mq, ok := splitHeads(at.Input(0), bhsd)
	if !ok {
		return false, nil
	}
	kperm := bhsd
	if at.Attrs.GetInt("transpose_k", 0) != 0 {
		kperm = []int{0, 2, 3, 1}
	}
	k, hk, mk, ok1 := splitHeads(at.Input(1), kperm)
	v, hv, mv, ok2 := splitHeads(at.Input(2), bhsd)
	if !ok1 || !ok2 || hk != h || hv != h {
		return false, nil
	}
	tr := c.SoleConsumer(out0(at))
	if !is(tr, "Transpose") || !equalInts(permOf(tr, 4), bhsd) {
		return false, nil
	}
	rs := c.SoleConsumer(out0(tr))
	if !is(rs, "Reshape") || rankOf(out0(rs)) != 3 {
		return false, nil
	}
	ys := out0(rs).Shape
	if !sameDim(ys[0], q.Shape[0]) || !sameDim(ys[1], q.Shape[1]) || !ys[2].Known() || !sameDim(ys[2], v.Shape[2]) {
		return false, nil
	}
	matched := append(append(append([]*graph.Node{at}, mq...), mk...), mv...)
	matched = append(matched, tr, rs)
	if !c.CanFuse(rs, matched...) {
		return false, nil
	}
	attrs := at.Attrs.Clone()
	attrs["num_heads"] = graph.Int(int64(h))
	attrs["transpose_k"] = graph.Int(0)
	inputs := []*graph.Value{q, k, v}
	if m := at.Input(3); m != nil {
		inputs = append(inputs, m)
	}
	fused := c.NewNode(ops.Attention, ops.DomainLightOS, at.Name+"_heads", inputs, []*graph.Value{out0(rs)}, attrs)
	c.Replace(matched, fused)
	return true, nil
}
