package passes

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// LayerNormChains turns the decomposed layer normalization exporters emit,
//
//	mean = ReduceMean(X, trailing axes, keepdims=1)
//	d    = Sub(X, mean)
//	var  = ReduceMean(Pow(d, 2) or Mul(d, d), same axes, keepdims=1)
//	Y    = Div(d, Sqrt(Add(var, epsilon)))  [then Mul(·, gamma)] [then Add(·, beta)]
//
// into LayerNormalization(X, gamma, beta) with axis = the first reduced axis (gamma
// of ones when the chain has no Mul). The reduced axes must be the trailing ones, and
// gamma and beta must not broadcast over the leading axes.
var LayerNormChains = RulePass("layernorm", Rule{Roots: []string{"ReduceMean"}, Apply: fuseLayerNorm})

// reduceAxes returns a ReduceMean's axes (attribute, or constant input from opset
// 18) when keepdims is 1.
func reduceAxes(n *graph.Node) ([]int64, bool) {
	if n.Attrs.GetInt("keepdims", 1) != 1 {
		return nil, false
	}
	if n.Input(1) != nil {
		return int64sOf(n.Input(1))
	}
	ax := n.Attrs.GetInts("axes", nil)
	return ax, ax != nil
}

func fuseLayerNorm(c *Context, rm1 *graph.Node) (bool, error) {
	x := rm1.Input(0)
	r := rankOf(x)
	if r < 1 || !x.DType.IsFloat() {
		return false, nil
	}
	axes, ok := reduceAxes(rm1)
	if !ok {
		return false, nil
	}
	na, ok := normAxes(axes, r)
	if !ok || len(na) == 0 {
		return false, nil
	}
	first := r - len(na)
	seen := map[int]bool{}
	for _, a := range na {
		if a < first || seen[a] {
			return false, nil // not the trailing axes
		}
		seen[a] = true
	}
	sub := c.SoleConsumer(out0(rm1))
	if !is(sub, "Sub") || sub.Input(0) != x || sub.Input(1) != out0(rm1) {
		return false, nil
	}
	d := out0(sub)
	var sq, div *graph.Node
	for _, n := range c.Consumers(d) {
		switch {
		case is(n, "Pow") && n.Input(0) == d:
			if e, ok := constScalar(n.Input(1)); ok && e == 2 {
				sq = n
			}
		case is(n, "Mul") && n.Input(0) == d && n.Input(1) == d:
			sq = n
		case is(n, "Div") && n.Input(0) == d:
			div = n
		}
	}
	if sq == nil || div == nil || len(c.Consumers(d)) != 2 && !(is(sq, "Mul") && len(c.Consumers(d)) == 3) {
		return false, nil
	}
	rm2 := c.SoleConsumer(out0(sq))
	if !is(rm2, "ReduceMean") {
		return false, nil
	}
	axes2, ok := reduceAxes(rm2)
	if na2, ok2 := normAxes(axes2, r); !ok || !ok2 || len(na2) != len(na) {
		return false, nil
	} else {
		for _, a := range na2 {
			if !seen[a] {
				return false, nil
			}
		}
	}
	addEps := c.SoleConsumer(out0(rm2))
	if !is(addEps, "Add") {
		return false, nil
	}
	eps, ok := constScalar(other(addEps, out0(rm2)))
	if !ok {
		return false, nil
	}
	sqrt := c.SoleConsumer(out0(addEps))
	if !is(sqrt, "Sqrt") || c.SoleConsumer(out0(sqrt)) != div || div.Input(1) != out0(sqrt) {
		return false, nil
	}
	matched := []*graph.Node{rm1, sub, sq, rm2, addEps, sqrt, div}
	y := out0(div)
	norm := r - first
	var gamma, beta *graph.Value
	if mul := c.SoleConsumer(y); is(mul, "Mul") {
		if g := other(mul, y); g != nil && rankOf(g) >= 0 && rankOf(g) <= norm && g.DType == x.DType {
			gamma, y = g, out0(mul)
			matched = append(matched, mul)
		}
	}
	if add := c.SoleConsumer(y); is(add, "Add") {
		if bv := other(add, y); bv != nil && rankOf(bv) >= 0 && rankOf(bv) <= norm && bv.DType == x.DType {
			beta, y = bv, out0(add)
			matched = append(matched, add)
		}
	}
	root := matched[len(matched)-1]
	if !c.CanFuse(root, matched...) {
		return false, nil
	}
	if gamma == nil {
		xs, ok := shapeOf(x)
		if !ok {
			return false, nil
		}
		ones := tensor.New(x.DType, xs[first:])
		for i := 0; i < ones.Len(); i++ {
			ones.SetFloat64At(i, 1)
		}
		gamma = c.AddConst(rm1.Name+"_gamma", ones)
	}
	inputs := []*graph.Value{x, gamma}
	if beta != nil {
		inputs = append(inputs, beta)
	}
	attrs := graph.Attrs{"axis": graph.Int(int64(first)), "epsilon": graph.Float(float32(eps))}
	ln := c.NewNode("LayerNormalization", "", rm1.Name+"_layernorm", inputs, []*graph.Value{y}, attrs)
	c.Replace(matched, ln)
	return true, nil
}
