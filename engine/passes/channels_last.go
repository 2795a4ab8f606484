package passes

import (
	"math"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// ChannelsLast rewrites convolution chains to run channels-last (N×H×W×C), for a
// backend whose direct convolution reads and writes that layout (the CPU's). It runs
// only with Options.ChannelsLast: only the CPU backend implements the NHWC operators
// (engine/ops/nhwc.go); the CUDA backend keeps its own NHWC handling inside its plans.
//
// A region is a maximal connected set of
//
//   - 2-D float32 Conv or FusedConv with constant OIHW weights, group 1 or depthwise
//     (group = C = M),
//   - 2-D MaxPool (its Indices unused), AveragePool and GlobalAveragePool,
//   - elementwise operators of one input (Relu, Clip with constant bounds, ...) and
//     Add/Sub/Mul/Div of two values of the same static 4-D shape,
//
// connected producer to consumer. A region with at least one convolution is rewritten
// into NhwcConv, NhwcMaxPool, NhwcAveragePool, NhwcGlobalAveragePool and the same
// elementwise operators on NHWC values, with Transpose(perm 0,2,3,1) where an NCHW
// value enters the region and Transpose(0,3,1,2) writing the original value where it
// leaves (read outside the region or a graph output), so every other node and every
// graph output sees the values it saw before. A transpose that only moves dimensions
// of size 1 (the [N, C, 1, 1] after a global pool) is a Reshape instead, which the
// executor runs as a view; a value whose only reader transposes it back to NHWC (a
// model from an NHWC framework) is written there directly, and the entry transposes
// of such models cancel against theirs (layout merges them). Regions stay as they are
// when the transposes would cost
// more than the layout gains: without a convolution, or with fewer than 64
// multiply-adds of convolution per element moved at the edges (clMACsPerElement).
//
// In the region, NhwcConv then absorbs what FusedConv could not: a following Relu,
// LeakyRelu or Clip (ReLU6) as its activation, and a following Add of a same-shaped
// value (the residual of a ResNet or MobileNetV2 block) with its Relu.
var ChannelsLast = Pass{Name: "channels-last", Run: func(c *Context) error {
	if !c.Opts.ChannelsLast {
		return nil
	}
	for _, r := range channelsLastRegions(c) {
		rewriteRegion(c, r)
	}
	fuseNhwc(c)
	return nil
}}

// clRole is what a node is in a channels-last region.
type clRole int

const (
	clNone clRole = iota
	clConv
	clPool
	clElementwise
)

// channelsLastRole returns the role n can take in a region (clNone: it cannot join).
func channelsLastRole(c *Context, n *graph.Node) clRole {
	if len(n.Outputs) == 0 || !is4DF32(out0(n)) {
		return clNone
	}
	switch {
	case is(n, "Conv") || (n.Domain == ops.DomainLightOS && n.Op == ops.FusedConv):
		if nhwcConvable(n) {
			return clConv
		}
	case is(n, "MaxPool", "AveragePool"):
		if !is4DF32(n.Input(0)) || n.Attrs.GetInts("dilations", nil) != nil && !allOnes(n.Attrs.GetInts("dilations", nil)) {
			return clNone
		}
		for _, v := range n.Outputs[1:] {
			if v != nil && (c.G.IsOutput(v) || len(c.Consumers(v)) > 0) {
				return clNone
			}
		}
		return clPool
	case is(n, "GlobalAveragePool"):
		if is4DF32(n.Input(0)) {
			return clPool
		}
	case is(n, "Clip"):
		if _, _, ok := clipBounds(n); ok && len(n.Outputs) == 1 && is4DF32(n.Input(0)) {
			return clElementwise
		}
	case is(n, "Add", "Sub", "Mul", "Div"):
		a, b := n.Input(0), n.Input(1)
		if len(n.Inputs) == 2 && is4DF32(a) && sameStaticShape(a, b) && sameStaticShape(a, out0(n)) {
			return clElementwise
		}
	case isUnary(n):
		if is4DF32(n.Input(0)) {
			return clElementwise
		}
	}
	return clNone
}

// nhwcConvable reports whether a Conv or FusedConv has an NhwcConv form: 2-D, float32,
// constant weights, group 1 or depthwise, an activation NhwcConv knows.
func nhwcConvable(n *graph.Node) bool {
	x, w, b := n.Input(0), n.Input(1), n.Input(2)
	if !is4DF32(x) || w == nil || w.Const == nil || w.DType != tensor.Float32 || w.Const.Rank() != 4 || !isF32(b) {
		return false
	}
	if n.Domain == ops.DomainLightOS {
		if r := n.Input(3); r != nil && !is4DF32(r) {
			return false
		}
		switch n.Attrs.GetString("activation", "") {
		case ops.ActNone, ops.ActRelu, ops.ActLeakyRelu:
		default:
			return false
		}
	}
	ch := x.Shape[1]
	if !ch.Known() {
		return false
	}
	group, ws := n.Attrs.GetInt("group", 1), w.Const.Shape()
	return group == 1 || (group == ch.Size && int64(ws[0]) == group && ws[1] == 1)
}

// is4DF32 reports whether v is a float32 tensor of rank 4 with known C, H and W.
func is4DF32(v *graph.Value) bool {
	if v == nil || v.DType != tensor.Float32 || rankOf(v) != 4 {
		return false
	}
	for _, d := range v.Shape[1:] {
		if !d.Known() {
			return false
		}
	}
	return true
}

func allOnes(v []int64) bool {
	for _, x := range v {
		if x != 1 {
			return false
		}
	}
	return true
}

// clipBounds returns a Clip's bounds (attributes before opset 11, constant scalar
// inputs after; a missing bound is infinite). ok is false for non-constant bounds.
func clipBounds(n *graph.Node) (lo, hi float32, ok bool) {
	lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	if n.Attrs.Has("min") || n.Attrs.Has("max") {
		return n.Attrs.GetFloat("min", lo), n.Attrs.GetFloat("max", hi), true
	}
	for i, p := range []*float32{&lo, &hi} {
		v := n.Input(i + 1)
		if v == nil {
			continue
		}
		s, isConst := constScalar(v)
		if !isConst {
			return 0, 0, false
		}
		*p = float32(s)
	}
	return lo, hi, true
}

// clRegion is one region to rewrite: its nodes in graph order.
type clRegion struct{ nodes []*graph.Node }

// channelsLastRegions finds the regions (with a convolution) of the graph, by a
// union-find over the producer-consumer edges between nodes that can join one.
func channelsLastRegions(c *Context) []clRegion {
	role := map[*graph.Node]clRole{}
	parent := map[*graph.Node]*graph.Node{}
	var find func(n *graph.Node) *graph.Node
	find = func(n *graph.Node) *graph.Node {
		for parent[n] != n {
			parent[n] = parent[parent[n]]
			n = parent[n]
		}
		return n
	}
	for _, n := range c.G.Nodes {
		r := channelsLastRole(c, n)
		if r == clNone {
			continue
		}
		role[n], parent[n] = r, n
		for _, v := range n.Inputs {
			// Nodes placed on different devices (a placement's "_device") stay apart.
			if p := producerIn(v, role); p != nil && p.Attrs.GetString("_device", "") == n.Attrs.GetString("_device", "") {
				parent[find(p)] = find(n)
			}
		}
	}
	hasConv := map[*graph.Node]bool{}
	for n, r := range role {
		if r == clConv {
			hasConv[find(n)] = true
		}
	}
	byRoot := map[*graph.Node]int{}
	var regions []clRegion
	for _, n := range c.G.Nodes {
		if _, ok := role[n]; !ok || !hasConv[find(n)] {
			continue
		}
		root := find(n)
		i, ok := byRoot[root]
		if !ok {
			i = len(regions)
			byRoot[root] = i
			regions = append(regions, clRegion{})
		}
		regions[i].nodes = append(regions[i].nodes, n)
	}
	kept := regions[:0]
	for _, r := range regions {
		if regionPays(c, r) {
			kept = append(kept, r)
		}
	}
	return kept
}

// clMACsPerElement is how many multiply-adds of convolution a region must hold per
// element its edge transposes move for the rewrite to pay: a transposed element costs
// about a nanosecond, a multiply-add in the convolution kernels a hundredth of that,
// and the NHWC kernels gain a few percent on the convolution (ResNet-50: 4 G
// multiply-adds against 150 k transposed elements).
const clMACsPerElement = 64

// regionPays reports whether r's convolutions outweigh the transposes at its edges
// (per image, so a symbolic batch does not matter).
func regionPays(c *Context, r clRegion) bool {
	member := map[*graph.Node]bool{}
	for _, n := range r.nodes {
		member[n] = true
	}
	perImage := func(v *graph.Value) int64 {
		e := int64(1)
		for _, d := range v.Shape[1:] {
			e *= d.Size
		}
		return e
	}
	var macs, moved int64
	seen := map[*graph.Value]bool{}
	for _, n := range r.nodes {
		for i, v := range n.Inputs {
			if v != nil && clDataInput(n, i) && !member[v.Producer] && !seen[v] {
				seen[v] = true
				moved += perImage(v)
			}
		}
		y := out0(n)
		leaves := c.G.IsOutput(y)
		for _, u := range c.Consumers(y) {
			leaves = leaves || !member[u]
		}
		if leaves {
			moved += perImage(y)
		}
		if is(n, "Conv") || n.Op == ops.FusedConv {
			w := n.Input(1).Const.Shape() // [M, C/group, KH, KW]
			macs += perImage(y) * int64(w[1]*w[2]*w[3])
		}
	}
	return macs >= clMACsPerElement*moved
}

// producerIn returns v's producer when it is in role's set, else nil.
func producerIn(v *graph.Value, role map[*graph.Node]clRole) *graph.Node {
	if v == nil || v.Producer == nil {
		return nil
	}
	if _, ok := role[v.Producer]; !ok {
		return nil
	}
	return v.Producer
}

// nhwcType is t (a 4-D NCHW type) as NHWC.
func nhwcType(t graph.Type) graph.Type {
	t.Shape = t.Shape.Permute(ops.NCHWToNHWC)
	return t
}

// rewriteRegion replaces the region's nodes by their NHWC forms, with the transposes
// at its edges, keeping the graph's order topological: an entry transpose goes right
// before its first reader, an exit one right after the producer.
func rewriteRegion(c *Context, r clRegion) {
	member := map[*graph.Node]bool{}
	for _, n := range r.nodes {
		member[n] = true
	}
	nhwc := map[*graph.Value]*graph.Value{} // NCHW value -> its NHWC twin
	before := map[*graph.Node][]*graph.Node{}
	after := map[*graph.Node][]*graph.Node{}
	repl := map[*graph.Node]*graph.Node{}
	dropped := map[*graph.Node]bool{} // Transposes to NHWC whose output the region writes
	for _, n := range r.nodes {
		ins := append([]*graph.Value(nil), n.Inputs...)
		for i, v := range ins {
			if v == nil || !clDataInput(n, i) {
				continue
			}
			if t, ok := nhwc[v]; ok {
				ins[i] = t
				continue
			}
			t := c.G.NewValue(v.Name+"_nhwc", nhwcType(v.Type))
			before[n] = append(before[n], layoutNode(c, v.Name+"_to_nhwc", v, t, ops.NCHWToNHWC))
			nhwc[v], ins[i] = t, t
		}
		y := out0(n)
		var ny *graph.Value
		if t := toNHWCReader(c, y); t != nil {
			// y only goes back to NHWC (a model from an NHWC framework): the region
			// writes that Transpose's output, and the Transpose goes.
			ny, dropped[t] = out0(t), true
		} else {
			ny = c.G.NewValue(y.Name+"_nhwc", nhwcType(y.Type))
		}
		nhwc[y] = ny
		// The NHWC form keeps the node's name (the node it replaces goes).
		nn := &graph.Node{Name: n.Name, Op: nhwcOp(n), Domain: nhwcDomain(n), Inputs: ins[:clInputs(n)], Outputs: []*graph.Value{ny}, Attrs: nhwcAttrs(n)}
		repl[n] = nn
		leaves := c.G.IsOutput(y)
		for _, u := range c.Consumers(y) {
			if !member[u] {
				leaves = true
			}
		}
		if leaves && !dropped[ny.Producer] {
			after[n] = append(after[n], layoutNode(c, n.Name+"_to_nchw", ny, y, ops.NHWCToNCHW))
		}
		ny.Producer = nn
	}
	var nodes []*graph.Node
	for _, n := range c.G.Nodes {
		if dropped[n] {
			c.removed[n] = true
			continue
		}
		if !member[n] {
			nodes = append(nodes, n)
			continue
		}
		nodes = append(nodes, before[n]...)
		nodes = append(nodes, repl[n])
		nodes = append(nodes, after[n]...)
	}
	for _, n := range r.nodes {
		c.removed[n] = true
	}
	c.G.Nodes = nodes
	for _, list := range [](map[*graph.Node][]*graph.Node){before, after} {
		for _, ns := range list {
			for _, t := range ns {
				t.Outputs[0].Producer = t
			}
		}
	}
	c.G.Reindex()
	c.cons = nil
	c.Fire(r.nodes, repl[r.nodes[len(r.nodes)-1]])
}

// clDataInput reports whether input i of region node n is a 4-D tensor that changes
// layout (Clip's bounds and a convolution's weights and bias do not).
func clDataInput(n *graph.Node, i int) bool {
	switch {
	case is(n, "Clip"):
		return i == 0
	case is(n, "Conv") || n.Op == ops.FusedConv:
		return i == 0 || i == 3
	}
	return true
}

// clInputs is how many of n's inputs its NHWC form takes.
func clInputs(n *graph.Node) int {
	if is(n, "MaxPool", "AveragePool", "GlobalAveragePool") {
		return 1
	}
	return len(n.Inputs)
}

func nhwcOp(n *graph.Node) string {
	switch {
	case is(n, "Conv") || n.Op == ops.FusedConv:
		return ops.NhwcConv
	case is(n, "MaxPool"):
		return ops.NhwcMaxPool
	case is(n, "AveragePool"):
		return ops.NhwcAveragePool
	case is(n, "GlobalAveragePool"):
		return ops.NhwcGlobalAveragePool
	}
	return n.Op
}

func nhwcDomain(n *graph.Node) string {
	if nhwcOp(n) != n.Op || n.Domain == ops.DomainLightOS {
		return ops.DomainLightOS
	}
	return n.Domain
}

func nhwcAttrs(n *graph.Node) graph.Attrs {
	a := n.Attrs.Clone()
	if is(n, "MaxPool") {
		delete(a, "storage_order")
	}
	return a
}

// toNHWCReader returns the Transpose(0,2,3,1) that is the only reader of v when v is
// not a graph output, else nil.
func toNHWCReader(c *Context, v *graph.Value) *graph.Node {
	t := c.SoleConsumer(v)
	if !is(t, "Transpose") || !equalInts(permOf(t, 4), ops.NCHWToNHWC) {
		return nil
	}
	return t
}

// layoutNode makes the node writing out = x with its dimensions permuted by perm: a
// Reshape when the permutation only moves dimensions of size 1 (and the sizes are
// known but for the batch), else a Transpose.
func layoutNode(c *Context, base string, x, out *graph.Value, perm []int) *graph.Node {
	if shape, ok := reshapeFor(x, perm); ok {
		t := tensor.New(tensor.Int64, []int{len(shape)})
		copy(t.Int64s(), shape)
		s := c.AddConst(base+"_shape", t)
		return c.NewNode("Reshape", "", base, []*graph.Value{x, s}, []*graph.Value{out}, nil)
	}
	p := make([]int64, len(perm))
	for i, v := range perm {
		p[i] = int64(v)
	}
	return c.NewNode("Transpose", "", base, []*graph.Value{x}, []*graph.Value{out}, graph.Attrs{"perm": graph.Ints(p...)})
}

// reshapeFor returns the Reshape target (0 copying the batch) equal to transposing x
// by perm, when the dimensions other than size 1 keep their order.
func reshapeFor(x *graph.Value, perm []int) ([]int64, bool) {
	s := x.Shape
	last := -1
	for _, p := range perm {
		if !s[p].Known() {
			if p != 0 {
				return nil, false
			}
		} else if s[p].Size == 1 {
			continue
		}
		if p < last {
			return nil, false
		}
		last = p
	}
	out := make([]int64, len(perm))
	for i, p := range perm {
		out[i] = s[p].Size
	}
	if perm[0] == 0 {
		out[0] = 0 // copy the batch, known or not
	}
	return out, true
}

// fuseNhwc folds into each NhwcConv without an activation the Relu, LeakyRelu or Clip
// that is its output's only reader, and into each NhwcConv without a residual and
// activation an Add of a same-shaped value (and that Add's activation).
func fuseNhwc(c *Context) {
	for _, n := range append([]*graph.Node(nil), c.G.Nodes...) {
		if c.removed[n] || n.Domain != ops.DomainLightOS || n.Op != ops.NhwcConv || n.Attrs.GetString("activation", "") != "" {
			continue
		}
		y := out0(n)
		next := c.SoleConsumer(y)
		var matched []*graph.Node
		attrs := n.Attrs.Clone()
		ins := append([]*graph.Value(nil), n.Inputs...)
		for len(ins) < 3 {
			ins = append(ins, nil)
		}
		if is(next, "Add") && n.Input(3) == nil {
			if res := other(next, y); res != nil && sameStaticShape(res, y) && sameStaticShape(out0(next), y) {
				ins = append(ins[:3], res)
				matched = append(matched, next)
				y = out0(next)
				next = c.SoleConsumer(y)
			}
		}
		if act, ok := nhwcActivation(next); ok && next.Input(0) == y {
			for k, v := range act {
				attrs[k] = v
			}
			matched = append(matched, next)
			y = out0(next)
		}
		if len(matched) == 0 || !c.CanFuse(matched[len(matched)-1], append([]*graph.Node{n}, matched[:len(matched)-1]...)...) {
			continue
		}
		for len(ins) > 2 && ins[len(ins)-1] == nil {
			ins = ins[:len(ins)-1]
		}
		fused := c.NewNode(ops.NhwcConv, ops.DomainLightOS, n.Name+"_fused", ins, []*graph.Value{y}, attrs)
		c.Replace(append([]*graph.Node{n}, matched...), fused)
	}
}

// nhwcActivation returns NhwcConv's activation attributes for an activation node.
func nhwcActivation(n *graph.Node) (graph.Attrs, bool) {
	switch {
	case is(n, "Relu"):
		return graph.Attrs{"activation": graph.String(ops.ActRelu)}, true
	case is(n, "LeakyRelu"):
		return graph.Attrs{"activation": graph.String(ops.ActLeakyRelu), "alpha": graph.Float(n.Attrs.GetFloat("alpha", 0.01))}, true
	case is(n, "Clip"):
		lo, hi, ok := clipBounds(n)
		if !ok || !(lo <= hi) {
			return nil, false
		}
		return graph.Attrs{"activation": graph.String(ops.ActClip), "min": graph.Float(lo), "max": graph.Float(hi)}, true
	}
	return nil, false
}
