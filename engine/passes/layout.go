package passes

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
)

// Layout moves the transposes inside convolution chains to the chains' ends.
//
// The CPU convolution (backends/cpu/gemm Conv2D) is an implicit GEMM over NCHW
// tensors: the packed OIHW weights are the A operand and each output channel's plane
// is a contiguous row of C, so NCHW is the layout it runs fastest in, and the one the
// ONNX Conv gives. What costs time in practice are graphs converted from NHWC
// frameworks, which wrap every Conv in Transpose(NHWC→NCHW) ... Transpose(NCHW→NHWC)
// and run the elementwise ops in between in NHWC. This pass
//
//   - sinks a Transpose below a unary elementwise op (Relu, ...) whose only reader is
//     another Transpose or whose input comes from a Conv, and below Add/Sub/Mul/Div whose two inputs are transposed
//     the same way: op(T(x)) = T(op(x));
//   - merges Transpose(Transpose(x)) into one, or drops both when they cancel;
//
// so that a chain is left with one transpose at each end and runs in NCHW throughout.
var Layout = Pass{Name: "layout", Run: func(c *Context) error {
	for _, n := range append([]*graph.Node(nil), c.G.Nodes...) {
		if c.removed[n] {
			continue
		}
		switch {
		case is(n, "Transpose"):
			if mergeTransposes(c, n) {
				continue
			}
			sinkUnary(c, n)
		case is(n, "Add", "Sub", "Mul", "Div"):
			sinkBinary(c, n)
		}
	}
	return nil
}}

func isUnary(n *graph.Node) bool {
	if n == nil || !onnxDomain(n.Domain) || len(n.Inputs) != 1 || len(n.Outputs) != 1 {
		return false
	}
	for _, op := range ops.UnaryOps {
		if n.Op == op {
			return true
		}
	}
	return false
}

// transposeRank returns the rank a Transpose works on, or -1.
func transposeRank(t *graph.Node) int {
	if p := t.Attrs.GetInts("perm", nil); p != nil {
		return len(p)
	}
	return rankOf(t.Input(0))
}

// mergeTransposes rewrites t2(t1(x)) as x (when the permutations cancel) or as one
// Transpose of x.
func mergeTransposes(c *Context, t2 *graph.Node) bool {
	t1 := producedBy(t2.Input(0), "Transpose")
	if t1 == nil {
		return false
	}
	r := transposeRank(t2)
	p1, p2 := permOf(t1, r), permOf(t2, r)
	if r < 0 || p1 == nil || p2 == nil {
		return false
	}
	comp := make([]int, r)
	identity := true
	for i := range comp {
		comp[i] = p1[p2[i]]
		if comp[i] != i {
			identity = false
		}
	}
	x, y := t1.Input(0), out0(t2)
	if identity {
		if c.G.IsOutput(y) {
			return false // the output's name must stay: keep the pair
		}
		c.G.ReplaceUses(y, x)
		c.Replace([]*graph.Node{t2}, nil)
		return true
	}
	perm := make([]int64, r)
	for i, v := range comp {
		perm[i] = int64(v)
	}
	merged := c.NewNode("Transpose", "", t2.Name+"_merged", []*graph.Value{x}, []*graph.Value{y}, graph.Attrs{"perm": graph.Ints(perm...)})
	c.Replace([]*graph.Node{t2}, merged)
	return true
}

// sinkUnary rewrites u(t(x)) as t(u(x)) when u's only reader is a Transpose (which then
// meets t).
func sinkUnary(c *Context, t *graph.Node) bool {
	u := c.SoleConsumer(out0(t))
	// Worth it when the transpose then meets another one, or when it lets the op
	// join the convolution before it (Conv+Relu fuse).
	meets := is(c.SoleConsumer(out0(u)), "Transpose") || producedBy(t.Input(0), "Conv") != nil
	if !isUnary(u) || !meets || !c.CanFuse(u, t) {
		return false
	}
	x := t.Input(0)
	mid := c.G.NewValue(out0(u).Name+"_nchw", x.Type)
	nu := c.NewNode(u.Op, u.Domain, u.Name+"_nchw", []*graph.Value{x}, []*graph.Value{mid}, u.Attrs.Clone())
	mid.Producer = nu
	nt := c.NewNode("Transpose", "", t.Name+"_sunk", []*graph.Value{mid}, []*graph.Value{out0(u)}, t.Attrs.Clone())
	c.Replace([]*graph.Node{t, u}, nu)
	c.insertAfter(nu, nt)
	return true
}

// sinkBinary rewrites op(t(a), t(b)) as t(op(a, b)) for equal permutations and equal
// shapes of a and b.
func sinkBinary(c *Context, n *graph.Node) bool {
	ta, tb := producedBy(n.Input(0), "Transpose"), producedBy(n.Input(1), "Transpose")
	if ta == nil || tb == nil || ta == tb {
		return false
	}
	a, b := ta.Input(0), tb.Input(0)
	as, ok1 := shapeOf(a)
	bs, ok2 := shapeOf(b)
	r := len(as)
	if !ok1 || !ok2 || !equalInts(as, bs) || !equalInts(permOf(ta, r), permOf(tb, r)) || !c.CanFuse(n, ta, tb) {
		return false
	}
	mid := c.G.NewValue(out0(n).Name+"_nchw", a.Type)
	nn := c.NewNode(n.Op, n.Domain, n.Name+"_nchw", []*graph.Value{a, b}, []*graph.Value{mid}, n.Attrs.Clone())
	mid.Producer = nn
	nt := c.NewNode("Transpose", "", ta.Name+"_sunk", []*graph.Value{mid}, []*graph.Value{out0(n)}, ta.Attrs.Clone())
	c.Replace([]*graph.Node{ta, tb, n}, nn)
	c.insertAfter(nn, nt)
	return true
}

// insertAfter puts node add right after node at in the graph's order.
func (c *Context) insertAfter(at, add *graph.Node) {
	g := c.G
	for i, n := range g.Nodes {
		if n == at {
			g.Nodes = append(g.Nodes[:i+1], append([]*graph.Node{add}, g.Nodes[i+1:]...)...)
			break
		}
	}
	for _, v := range add.Outputs {
		if v != nil {
			v.Producer = add
		}
	}
	g.Reindex()
	c.cons = nil
}
