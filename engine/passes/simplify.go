package passes

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Simplify removes nodes that compute nothing, which exporters and ONNX function
// expansions leave between the nodes a fusion looks for:
//
//   - Identity; Cast and CastLike to the input's own dtype;
//   - Expand, Reshape, Squeeze, Unsqueeze and Flatten whose output shape equals the
//     input's; a chain of those shape-only ops becomes one Reshape to the final shape;
//   - Where with a constant condition that is all true or all false;
//   - Add or Sub of a constant zero, Mul or Div by a constant one.
//
// Each removal needs the output's type to equal the value it is replaced by (dtype
// and known shape), and the output not to be a graph output (whose name must stay).
var Simplify = Pass{Name: "simplify", Run: func(c *Context) error {
	for _, n := range append([]*graph.Node(nil), c.G.Nodes...) {
		if c.removed[n] || !onnxDomain(n.Domain) || len(n.Outputs) != 1 || out0(n) == nil {
			continue
		}
		if src := passThrough(n); src != nil {
			bypass(c, n, src)
			continue
		}
		collapseReshapes(c, n)
	}
	return nil
}}

var shapeOnly = []string{"Reshape", "Squeeze", "Unsqueeze", "Flatten", "Expand"}

// passThrough returns the input value n's output equals, or nil.
func passThrough(n *graph.Node) *graph.Value {
	y := out0(n)
	same := func(x *graph.Value) *graph.Value {
		if x == nil || x.DType != y.DType {
			return nil
		}
		xs, ok1 := shapeOf(x)
		ys, ok2 := shapeOf(y)
		if !ok1 || !ok2 || !equalInts(xs, ys) {
			return nil
		}
		return x
	}
	switch {
	case is(n, "Identity"), is(n, "Cast", "CastLike"), is(n, shapeOnly...):
		// Cast changes nothing only when the dtypes agree, which same checks.
		return same(n.Input(0))
	case is(n, "Where"):
		cond := n.Input(0)
		if cond == nil || cond.Const == nil || cond.Const.DType() != tensor.Bool || cond.Const.Len() == 0 {
			return nil
		}
		bs := cond.Const.Bools()
		for _, b := range bs[1:] {
			if b != bs[0] {
				return nil
			}
		}
		if bs[0] {
			return same(n.Input(1))
		}
		return same(n.Input(2))
	case is(n, "Add", "Mul") && y.DType.IsFloat():
		neutral := 0.0
		if is(n, "Mul") {
			neutral = 1
		}
		if allEqual(n.Input(1), neutral) {
			return same(n.Input(0))
		}
		if allEqual(n.Input(0), neutral) {
			return same(n.Input(1))
		}
	case is(n, "Sub", "Div") && y.DType.IsFloat():
		neutral := 0.0
		if is(n, "Div") {
			neutral = 1
		}
		if allEqual(n.Input(1), neutral) {
			return same(n.Input(0))
		}
	}
	return nil
}

// allEqual reports whether v is a constant whose every element is x.
func allEqual(v *graph.Value, x float64) bool {
	if v == nil || v.Const == nil || !v.Const.DType().IsFloat() {
		return false
	}
	for i := 0; i < v.Const.Len(); i++ {
		if v.Const.Float64At(i) != x {
			return false
		}
	}
	return true
}

// bypass makes n's readers read src and removes n.
func bypass(c *Context, n *graph.Node, src *graph.Value) {
	if c.G.IsOutput(out0(n)) {
		return
	}
	c.G.ReplaceUses(out0(n), src)
	c.Replace([]*graph.Node{n}, nil)
}

// collapseReshapes rewrites a shape-only op reading another shape-only op's output
// as one Reshape of the first op's input to the known final shape.
func collapseReshapes(c *Context, n *graph.Node) {
	if !is(n, "Reshape", "Squeeze", "Unsqueeze", "Flatten") {
		return
	}
	prev := producedBy(n.Input(0), "Reshape", "Squeeze", "Unsqueeze", "Flatten")
	ys, ok := shapeOf(out0(n))
	if prev == nil || !ok || prev.Input(0) == nil || prev.Input(0).DType != out0(n).DType {
		return
	}
	shape := make([]int64, len(ys))
	for i, d := range ys {
		if d == 0 {
			return // Reshape reads 0 as "copy the input's dimension"
		}
		shape[i] = int64(d)
	}
	st, err := tensor.FromInt64([]int{len(shape)}, shape)
	if err != nil {
		return
	}
	r := c.NewNode("Reshape", "", n.Name+"_collapsed", []*graph.Value{prev.Input(0), c.AddConst(n.Name+"_shape", st)}, []*graph.Value{out0(n)}, nil)
	c.Replace([]*graph.Node{n}, r)
}
