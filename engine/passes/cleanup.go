package passes

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// impure reports whether a node must be neither folded, merged nor dropped: random
// generators and caller-implemented (custom) operators, which may have effects.
func impure(n *graph.Node) bool {
	if ops.IsCustom(n) {
		return true
	}
	switch n.Op {
	case "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli":
		return true
	}
	return false
}

// ConstantFolding evaluates, with Options.Eval, every node whose inputs are all
// constant, and Shape and Size nodes whose input shape is known, and turns their
// outputs into initializers. Without Eval it does nothing.
// A node the evaluator cannot run (no kernel) is left alone.
var ConstantFolding = Pass{Name: "fold-constants", Run: func(c *Context) error {
	if c.Opts.Eval == nil {
		return nil
	}
	for _, n := range append([]*graph.Node(nil), c.G.Nodes...) {
		if impure(n) || len(n.Inputs) == 0 {
			continue
		}
		if t := shapeConstant(n); t != nil {
			v := out0(n)
			v.Const, v.Producer = t, nil
			v.Type = graph.Type{DType: t.DType(), Shape: graph.ShapeOf(t.Shape()...), HasShape: true}
			c.G.Initializers = append(c.G.Initializers, v)
			c.Replace([]*graph.Node{n}, nil)
			continue
		}
		ins := make([]*tensor.Tensor, len(n.Inputs))
		ok := true
		for i, v := range n.Inputs {
			if v == nil {
				continue
			}
			if v.Const == nil {
				ok = false
				break
			}
			ins[i] = v.Const
		}
		if !ok {
			continue
		}
		if err := ops.InferNode(c.G, n, ops.InferOptions{}); err != nil {
			continue
		}
		types := make([]graph.Type, len(n.Outputs))
		for i, v := range n.Outputs {
			if v == nil {
				continue
			}
			s, known := shapeOf(v)
			if !known || (c.Opts.FoldLimit > 0 && tensor.NumElements(s) > c.Opts.FoldLimit) {
				ok = false
			}
			types[i] = v.Type
		}
		if !ok {
			continue
		}
		outs, err := c.Opts.Eval(n, ins, types)
		if err != nil || len(outs) < len(n.Outputs) {
			continue // no kernel here: the node runs at run time
		}
		for i, v := range n.Outputs {
			if v != nil && outs[i] == nil {
				ok = false
			}
		}
		if !ok {
			continue
		}
		for i, v := range n.Outputs {
			if v == nil {
				continue
			}
			v.Const, v.Producer = outs[i], nil
			v.Type = graph.Type{DType: outs[i].DType(), Shape: graph.ShapeOf(outs[i].Shape()...), HasShape: true}
			c.G.Initializers = append(c.G.Initializers, v)
		}
		c.Replace([]*graph.Node{n}, nil)
	}
	return nil
}}

// shapeConstant returns the value of a Shape or Size node whose input shape is fully
// known (the input itself need not be constant), or nil.
func shapeConstant(n *graph.Node) *tensor.Tensor {
	if !is(n, "Shape", "Size") || len(n.Outputs) != 1 || out0(n) == nil {
		return nil
	}
	xs, ok := shapeOf(n.Input(0))
	if !ok {
		return nil
	}
	if is(n, "Size") {
		t, _ := tensor.FromInt64([]int{}, []int64{int64(tensor.NumElements(xs))})
		return t
	}
	r := int64(len(xs))
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end := clamp(n.Attrs.GetInt("start", 0)), clamp(n.Attrs.GetInt("end", r))
	dims := []int64{}
	for i := start; i < end; i++ {
		dims = append(dims, int64(xs[i]))
	}
	t, err := tensor.FromInt64([]int{len(dims)}, dims)
	if err != nil {
		return nil
	}
	return t
}

// DeadCode removes nodes none of whose outputs reach a graph output, and initializers
// nothing reads. Custom operators stay (they may have effects).
var DeadCode = Pass{Name: "dce", Run: func(c *Context) error {
	live := map[*graph.Value]bool{}
	for _, v := range c.G.Outputs {
		live[v] = true
	}
	var dead []*graph.Node
	for i := len(c.G.Nodes) - 1; i >= 0; i-- {
		n := c.G.Nodes[i]
		used := impure(n)
		for _, v := range n.Outputs {
			if v != nil && live[v] {
				used = true
			}
		}
		if !used {
			dead = append(dead, n)
			continue
		}
		for _, v := range n.Inputs {
			if v != nil {
				live[v] = true
			}
		}
	}
	if len(dead) > 0 {
		for i, j := 0, len(dead)-1; i < j; i, j = i+1, j-1 {
			dead[i], dead[j] = dead[j], dead[i]
		}
		c.Replace(dead, nil)
	}
	kept := c.G.Initializers[:0]
	removed := 0
	for _, v := range c.G.Initializers {
		if live[v] {
			kept = append(kept, v)
		} else {
			removed++
		}
	}
	for i := len(kept); i < len(c.G.Initializers); i++ {
		c.G.Initializers[i] = nil
	}
	c.G.Initializers = kept
	if removed > 0 {
		c.G.Reindex()
		if len(dead) == 0 {
			c.fired++ // initializers only: nothing to name in the report
		}
	}
	return nil
}}

// CommonSubexpressions merges nodes that apply the same operator, with the same
// attributes, to the same values: later copies are removed and their readers read the
// first copy's outputs. A copy whose output is a graph output is kept (its name is
// part of the graph's interface).
var CommonSubexpressions = Pass{Name: "cse", Run: func(c *Context) error {
	seen := map[string]*graph.Node{}
	for _, n := range append([]*graph.Node(nil), c.G.Nodes...) {
		if impure(n) || c.removed[n] {
			continue
		}
		key := cseKey(n)
		first, ok := seen[key]
		if !ok {
			seen[key] = n
			continue
		}
		isOut := false
		for _, v := range n.Outputs {
			if v != nil && c.G.IsOutput(v) {
				isOut = true
			}
		}
		if isOut {
			continue
		}
		for i, v := range n.Outputs {
			if v != nil {
				c.G.ReplaceUses(v, first.Outputs[i])
			}
		}
		c.Replace([]*graph.Node{n}, nil)
		c.report.Fired[len(c.report.Fired)-1].Result = first.Name
	}
	return nil
}}

// cseKey identifies what a node computes: operator, inputs (by identity), which
// outputs exist, and attributes (tensors and graphs by identity).
func cseKey(n *graph.Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s.%s(", n.Domain, n.Op)
	for _, v := range n.Inputs {
		fmt.Fprintf(&b, "%p,", v)
	}
	b.WriteString(")->")
	for _, v := range n.Outputs {
		if v == nil {
			b.WriteString("_,")
		} else {
			b.WriteString("o,")
		}
	}
	names := make([]string, 0, len(n.Attrs))
	for k := range n.Attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		a := n.Attrs[k]
		fmt.Fprintf(&b, "|%s:%d:", k, a.Kind)
		switch a.Kind {
		case graph.AttrInt:
			fmt.Fprint(&b, a.Int)
		case graph.AttrFloat:
			fmt.Fprint(&b, a.Float)
		case graph.AttrString:
			fmt.Fprintf(&b, "%q", a.String)
		case graph.AttrInts:
			fmt.Fprint(&b, a.Ints)
		case graph.AttrFloats:
			fmt.Fprint(&b, a.Floats)
		case graph.AttrStrings:
			fmt.Fprintf(&b, "%q", a.Strings)
		case graph.AttrTensor:
			fmt.Fprintf(&b, "%p", a.Tensor)
		case graph.AttrGraph:
			fmt.Fprintf(&b, "%p", a.Graph)
		}
	}
	return b.String()
}
