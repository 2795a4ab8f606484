package cpu

import (
	"context"
	"fmt"
	"math"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// If and Scan run their subgraphs with a small interpreter: each node's output types
// are inferred from the actual input tensors, and its kernel is made from a private
// copy of the node whose values carry those types, so the shared subgraph is never
// written and concurrent runs stay safe. Values are looked up by name: the subgraph's
// own first, then the enclosing scope (the node's implicit inputs).

func init() {
	registerExtra("", "If", func(n *graph.Node, env *Env) (backends.Kernel, error) { return &ifKernel{n: n, env: env}, nil })
	registerExtra("", "Scan", func(n *graph.Node, env *Env) (backends.Kernel, error) { return &scanKernel{n: n, env: env}, nil })
}

type xScope map[string]*tensor.Tensor

func xControl(run func(ctx context.Context, env *Env, n *graph.Node, in, out []*tensor.Tensor) error) Factory {
	return func(n *graph.Node, env *Env) (backends.Kernel, error) {
		return backends.KernelFunc(func(ctx context.Context, in, out []*tensor.Tensor) error { return run(ctx, env, n, in, out) }), nil
	}
}

// outerScope maps the names of a control-flow node's inputs to their tensors.
func outerScope(n *graph.Node, in []*tensor.Tensor) xScope {
	s := xScope{}
	for i, v := range n.Inputs {
		if v != nil && i < len(in) && in[i] != nil {
			s[v.Name] = in[i]
		}
	}
	return s
}

// xRunGraph runs g with its inputs bound to args and returns its outputs.
func xRunGraph(ctx context.Context, env *Env, g *graph.Graph, outer xScope, args []*tensor.Tensor) ([]*tensor.Tensor, error) {
	local := xScope{}
	get := func(v *graph.Value) *tensor.Tensor {
		if t, ok := local[v.Name]; ok {
			return t
		}
		if v.Const != nil {
			return v.Const
		}
		return outer[v.Name]
	}
	if len(args) != len(g.Inputs) {
		return nil, fmt.Errorf("subgraph %q takes %d inputs, got %d", g.Name, len(g.Inputs), len(args))
	}
	for i, v := range g.Inputs {
		local[v.Name] = args[i]
	}
	// nested control flow sees this graph's values as its enclosing scope
	inner := xScope{}
	for k, v := range outer {
		inner[k] = v
	}
	for _, n := range g.Nodes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ins := make([]*tensor.Tensor, len(n.Inputs))
		types := make([]graph.Type, len(n.Inputs))
		nn := *n
		nn.Inputs = make([]*graph.Value, len(n.Inputs))
		for i, v := range n.Inputs {
			if v == nil {
				continue
			}
			t := get(v)
			if t == nil {
				return nil, fmt.Errorf("subgraph %q: node %q reads %q, which has no value", g.Name, n.Name, v.Name)
			}
			ins[i] = t
			types[i] = ops.Typed(t.DType(), graph.ShapeOf(t.Shape()...))
			nn.Inputs[i] = &graph.Value{Name: v.Name, Type: types[i], Const: v.Const}
		}
		s, ok := ops.LookupNode(n)
		if !ok {
			return nil, fmt.Errorf("subgraph %q: node %q: unknown operator %s", g.Name, n.Name, n.Op)
		}
		outTypes, err := s.Infer(&ops.InferContext{Node: &nn, In: types, Consts: ins, Opset: g.Opset})
		if err != nil {
			return nil, fmt.Errorf("subgraph %q: %w", g.Name, err)
		}
		outs := make([]*tensor.Tensor, len(n.Outputs))
		nn.Outputs = make([]*graph.Value, len(n.Outputs))
		for i, v := range n.Outputs {
			if v == nil {
				continue
			}
			if i >= len(outTypes) || !outTypes[i].HasShape || !outTypes[i].Shape.Known() {
				return nil, fmt.Errorf("subgraph %q: node %q: output %d shape unknown at run time", g.Name, n.Name, i)
			}
			outs[i] = tensor.New(outTypes[i].DType, outTypes[i].Shape.Ints())
			nn.Outputs[i] = &graph.Value{Name: v.Name, Type: outTypes[i], Producer: &nn}
		}
		f, ok := factory(nn.Domain, nn.Op)
		if !ok {
			return nil, fmt.Errorf("subgraph %q: node %q: no kernel for %s", g.Name, n.Name, n.Op)
		}
		k, err := f(&nn, env)
		if err != nil {
			return nil, err
		}
		for i, v := range n.Inputs { // nested subgraphs read this graph's values by name
			if v != nil {
				inner[v.Name] = ins[i]
			}
		}
		if err := k.Run(ctx, ins, outs); err != nil {
			return nil, fmt.Errorf("subgraph %q: node %q (%s): %w", g.Name, n.Name, n.Op, err)
		}
		for i, v := range n.Outputs {
			if v != nil {
				local[v.Name] = outs[i]
			}
		}
	}
	res := make([]*tensor.Tensor, len(g.Outputs))
	for i, v := range g.Outputs {
		res[i] = get(v)
		if res[i] == nil {
			return nil, fmt.Errorf("subgraph %q: output %q was not computed", g.Name, v.Name)
		}
	}
	return res, nil
}

// xStore copies a result into a pre-allocated output of the same shape and dtype.
func xStore(n *graph.Node, dst, src *tensor.Tensor) error {
	if dst == nil {
		return nil
	}
	// The planned shape comes from the subgraph's declared output type; a declaration
	// that differs only in unit dimensions ([] for [1]) holds the same elements.
	if dst.DType() != src.DType() || (!xSameInts(dst.Shape(), src.Shape()) && dst.Len() != src.Len()) {
		return xExtraErr(n, "subgraph produced %v, the node's output is %v", src, dst)
	}
	copy(dst.Bytes(), src.Bytes())
	return nil
}

func xSameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ifKernel runs If; as a backends.AllocatingKernel it also serves branches whose
// output shapes are known only once the branch has run.
type ifKernel struct {
	n   *graph.Node
	env *Env
}

func (k *ifKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	return xRunIf(ctx, k.env, k.n, in, out)
}

// RunAlloc runs the chosen branch and returns its outputs as they come.
func (k *ifKernel) RunAlloc(ctx context.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	g, err := ifBranch(k.n, in)
	if err != nil {
		return nil, err
	}
	res, err := xRunGraph(ctx, k.env, g, outerScope(k.n, in), nil)
	if err != nil {
		return nil, xExtraErr(k.n, "%v", err)
	}
	return res, nil
}

// ifBranch picks the subgraph the condition selects.
func ifBranch(n *graph.Node, in []*tensor.Tensor) (*graph.Graph, error) {
	name := "then_branch"
	if in[0].Len() != 1 {
		return nil, xExtraErr(n, "condition has %d elements", in[0].Len())
	}
	if in[0].Float64At(0) == 0 {
		name = "else_branch"
	}
	g := n.Attrs[name].Graph
	if g == nil {
		return nil, xExtraErr(n, "missing %s", name)
	}
	return g, nil
}

func xRunIf(ctx context.Context, env *Env, n *graph.Node, in, out []*tensor.Tensor) error {
	name := "then_branch"
	if in[0].Len() != 1 {
		return xExtraErr(n, "condition has %d elements", in[0].Len())
	}
	if in[0].Float64At(0) == 0 {
		name = "else_branch"
	}
	g := n.Attrs[name].Graph
	if g == nil {
		return xExtraErr(n, "missing %s", name)
	}
	res, err := xRunGraph(ctx, env, g, outerScope(n, in), nil)
	if err != nil {
		return xExtraErr(n, "%v", err)
	}
	for i := range out {
		if err := xStore(n, out[i], res[i]); err != nil {
			return err
		}
	}
	return nil
}

// xSliceAxis copies slice t along axis of x into a new tensor without that axis.
func xSliceAxis(x *tensor.Tensor, axis, t int) *tensor.Tensor {
	s := x.Shape()
	outer, dim, inner := xProd(s[:axis]), s[axis], xProd(s[axis+1:])
	shape := append(append([]int(nil), s[:axis]...), s[axis+1:]...)
	y := tensor.New(x.DType(), shape)
	e := x.DType().Size()
	src, dst := x.Bytes(), y.Bytes()
	for o := 0; o < outer; o++ {
		copy(dst[o*inner*e:(o+1)*inner*e], src[(o*dim+t)*inner*e:(o*dim+t+1)*inner*e])
	}
	return y
}

// xPutAxis writes y (the shape of dst without axis) as slice t of dst along axis.
func xPutAxis(dst, y *tensor.Tensor, axis, t int) {
	s := dst.Shape()
	outer, dim, inner := xProd(s[:axis]), s[axis], xProd(s[axis+1:])
	e := dst.DType().Size()
	d, src := dst.Bytes(), y.Bytes()
	for o := 0; o < outer; o++ {
		copy(d[(o*dim+t)*inner*e:(o*dim+t+1)*inner*e], src[o*inner*e:(o+1)*inner*e])
	}
}

// scanKernel runs Scan; as a backends.AllocatingKernel it also serves bodies whose
// output shapes are known only once the body has run.
type scanKernel struct {
	n   *graph.Node
	env *Env
}

func (k *scanKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	_, err := xRunScan(ctx, k.env, k.n, in, out)
	return err
}

// RunAlloc runs the scan and returns outputs shaped by what the body produced.
func (k *scanKernel) RunAlloc(ctx context.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return xRunScan(ctx, k.env, k.n, in, nil)
}

// xRunScan runs Scan. With out nil it makes the outputs from the body's results and
// returns them. Opset 8's form (an optional sequence_lens input first, and a batch axis
// 0 on every state, scan input and scan output) runs the opset 9 loop once per batch
// entry on slices.
func xRunScan(ctx context.Context, env *Env, n *graph.Node, in, out []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if n.Attrs.GetInt("_opset", 9) >= 9 {
		return xScanLoop(ctx, env, n, in, in, int(n.Attrs.GetInt("_explicit_inputs", int64(len(in)))), out)
	}
	if len(in) == 0 {
		return nil, xExtraErr(n, "no inputs")
	}
	if lens := in[0]; lens != nil {
		for i := 0; i < lens.Len(); i++ { // full-length sequences only
			if len(in) > 1 && in[len(in)-1] != nil && in[len(in)-1].Rank() > 1 && int(lens.Int64At(i)) != in[len(in)-1].Shape()[1] {
				return nil, xExtraErr(n, "sequence_lens %d shorter than the sequence: unsupported", lens.Int64At(i))
			}
		}
	}
	explicit := int(n.Attrs.GetInt("_explicit_inputs", int64(len(in)))) - 1
	if explicit < 0 || explicit >= len(in) {
		return nil, xExtraErr(n, "_explicit_inputs %d for %d inputs", explicit+1, len(in))
	}
	vals := in[1 : 1+explicit]
	batch := -1
	for _, t := range vals {
		if t == nil || t.Rank() == 0 {
			return nil, xExtraErr(n, "opset 8 inputs need a batch axis 0")
		}
		if batch >= 0 && t.Shape()[0] != batch {
			return nil, xExtraErr(n, "inputs disagree on the batch size (%d and %d)", batch, t.Shape()[0])
		}
		batch = t.Shape()[0]
	}
	if batch < 0 {
		return nil, xExtraErr(n, "no states or scan inputs")
	}
	var made []*tensor.Tensor
	for b := 0; b < batch; b++ {
		sl := make([]*tensor.Tensor, len(vals))
		for i, t := range vals {
			sl[i] = xSliceAxis(t, 0, b)
		}
		res, err := xScanLoop(ctx, env, n, in, sl, len(sl), nil)
		if err != nil {
			return nil, err
		}
		if made == nil {
			if out != nil {
				made = out
			} else {
				made = make([]*tensor.Tensor, len(res))
				for i, r := range res {
					made[i] = tensor.New(r.DType(), append([]int{batch}, r.Shape()...))
				}
			}
			if len(made) != len(res) {
				return nil, xExtraErr(n, "%d outputs for %d body results", len(made), len(res))
			}
		}
		for i, r := range res {
			if made[i] == nil {
				continue
			}
			if made[i].DType() != r.DType() || made[i].Len() != r.Len()*batch {
				return nil, xExtraErr(n, "output %d: body gave %v, output is %v", i, r, made[i])
			}
			xPutAxis(made[i], r, 0, b)
		}
	}
	return made, nil
}

// xScanLoop is the opset 9 Scan over the explicit states and scan inputs that start
// vals (node inputs all give the enclosing scope). It writes into out, or with out
// nil makes and returns the outputs.
func xScanLoop(ctx context.Context, env *Env, n *graph.Node, all, vals []*tensor.Tensor, explicit int, out []*tensor.Tensor) ([]*tensor.Tensor, error) {
	ranks := make([]int, len(vals))
	for i, t := range vals {
		if t != nil {
			ranks[i] = t.Rank()
		}
	}
	s, err := ops.ScanLayout(n, ranks, explicit)
	if err != nil {
		return nil, xExtraErr(n, "%v", err)
	}
	for j := 0; j < s.ScanIn; j++ {
		if t := vals[s.States+j]; t == nil || s.InAxes[j] < 0 || s.InAxes[j] >= t.Rank() {
			return nil, xExtraErr(n, "scan input %d has no axis %d", j, s.InAxes[j])
		}
	}
	seq := vals[s.States].Shape()[s.InAxes[0]]
	for j := 0; j < s.ScanIn; j++ {
		if vals[s.States+j].Shape()[s.InAxes[j]] != seq {
			return nil, xExtraErr(n, "scan inputs have different lengths")
		}
	}
	alloc := out == nil
	if alloc {
		out = make([]*tensor.Tensor, s.States+s.ScanOut)
	}
	if len(out) != s.States+s.ScanOut {
		return nil, xExtraErr(n, "%d outputs for %d states and %d scan outputs", len(out), s.States, s.ScanOut)
	}
	states := append([]*tensor.Tensor(nil), vals[:s.States]...)
	scope := outerScope(n, all)
	for it := 0; it < seq; it++ {
		args := append([]*tensor.Tensor(nil), states...)
		for j := 0; j < s.ScanIn; j++ {
			t := it
			if s.InReverse[j] != 0 {
				t = seq - 1 - it
			}
			args = append(args, xSliceAxis(vals[s.States+j], s.InAxes[j], t))
		}
		res, err := xRunGraph(ctx, env, s.Body, scope, args)
		if err != nil {
			return nil, xExtraErr(n, "iteration %d: %v", it, err)
		}
		states = res[:s.States]
		for k := 0; k < s.ScanOut; k++ {
			y := res[s.States+k]
			ax := s.OutAxes[k]
			if ax < 0 || ax > y.Rank() {
				return nil, xExtraErr(n, "scan output %d: axis %d out of range for %v", k, ax, y)
			}
			if alloc && it == 0 {
				sh := append(append(append([]int(nil), y.Shape()[:ax]...), seq), y.Shape()[ax:]...)
				out[s.States+k] = tensor.New(y.DType(), sh)
			}
			dst := out[s.States+k]
			if dst == nil {
				continue
			}
			t := it
			if s.OutReverse[k] != 0 {
				t = seq - 1 - it
			}
			if dst.Len() != y.Len()*seq || dst.DType() != y.DType() {
				return nil, xExtraErr(n, "scan output %d: body gave %v, output is %v", k, y, dst)
			}
			xPutAxis(dst, y, ax, t)
		}
	}
	if seq == 0 && alloc && s.ScanOut > 0 {
		return nil, xExtraErr(n, "empty scan: output shapes unknown")
	}
	for i := 0; i < s.States; i++ {
		if alloc {
			out[i] = states[i]
			continue
		}
		if err := xStore(n, out[i], states[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func init() {
	registerExtra("", "Loop", xControl(xRunLoop))
}

func xRunLoop(ctx context.Context, env *Env, n *graph.Node, in, out []*tensor.Tensor) error {
	body := n.Attrs["body"].Graph
	if body == nil {
		return xExtraErr(n, "no body graph")
	}
	explicit := int(n.Attrs.GetInt("_explicit_inputs", int64(len(in))))
	states := explicit - 2
	maxTrips := int64(-1)
	if in[0] != nil {
		maxTrips = in[0].Int64At(0)
	}
	cond := true
	if in[1] != nil {
		cond = in[1].Float64At(0) != 0
	}
	scanOut := len(body.Outputs) - 1 - states
	cur := append([]*tensor.Tensor(nil), in[2:explicit]...)
	scope := outerScope(n, in)
	var stacked [][]*tensor.Tensor
	var it int64
	for ; cond && (maxTrips < 0 || it < maxTrips); it++ {
		iter := tensor.New(tensor.Int64, nil)
		iter.Int64s()[0] = it
		c := tensor.New(tensor.Bool, nil)
		c.Bools()[0] = cond
		res, err := xRunGraph(ctx, env, body, scope, append([]*tensor.Tensor{iter, c}, cur...))
		if err != nil {
			return xExtraErr(n, "iteration %d: %v", it, err)
		}
		cond = res[0].Float64At(0) != 0
		cur = res[1 : 1+states]
		stacked = append(stacked, res[1+states:])
	}
	for i := 0; i < states; i++ {
		if err := xStore(n, out[i], cur[i]); err != nil {
			return err
		}
	}
	for k := 0; k < scanOut; k++ {
		dst := out[states+k]
		if dst == nil {
			continue
		}
		if dst.Rank() == 0 || dst.Shape()[0] != len(stacked) {
			return xExtraErr(n, "scan output %d has shape %v for %d iterations", k, dst.Shape(), len(stacked))
		}
		e, off := dst.Bytes(), 0
		for _, r := range stacked {
			b := r[k].Bytes()
			if off+len(b) > len(e) {
				return xExtraErr(n, "scan output %d: iterations produce more than %v", k, dst.Shape())
			}
			copy(e[off:], b)
			off += len(b)
		}
	}
	return nil
}

func init() {
	registerExtra("ai.onnx.preview", "FlexAttention", xControl(xRunFlexAttention))
}

// xRunFlexAttention follows onnx/reference/ops/aionnx_preview/op_flex_attention.py:
// scores in float32 (float64 for float64 inputs) go through score_mod, the softmax,
// then prob_mod, before the product with V.
func xRunFlexAttention(ctx context.Context, env *Env, n *graph.Node, in, out []*tensor.Tensor) error {
	q, k, v := in[0], in[1], in[2]
	qs, ks, vs := q.Shape(), k.Shape(), v.Shape()
	if len(qs) != 4 || len(ks) != 4 || len(vs) != 4 || ks[3] != qs[3] || vs[2] != ks[2] || ks[1] != vs[1] || qs[1]%ks[1] != 0 {
		return xExtraErr(n, "Q %v, K %v, V %v do not fit", qs, ks, vs)
	}
	B, H, L, E, Hkv, S, Ev := qs[0], qs[1], qs[2], qs[3], ks[1], ks[2], vs[3]
	scale := 1 / math.Sqrt(float64(E))
	if n.Attrs.Has("scale") {
		scale = float64(n.Attrs.GetFloat("scale", 1))
	}
	sq := float64(float32(math.Sqrt(float64(float32(scale)))))
	cdt := tensor.Float32
	if q.DType() == tensor.Float64 {
		cdt = tensor.Float64
	}
	qv, kv, vv := toFloat64s(q), toFloat64s(k), toFloat64s(v)
	rep := H / Hkv
	scores := make([]float64, B*H*L*S)
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			kh := h / rep
			for i := 0; i < L; i++ {
				for j := 0; j < S; j++ {
					var s float64
					for e := 0; e < E; e++ {
						s += qv[((b*H+h)*L+i)*E+e] * sq * kv[((b*Hkv+kh)*S+j)*E+e] * sq
					}
					scores[((b*H+h)*L+i)*S+j] = s
				}
			}
		}
	}
	scope := outerScope(n, in)
	mod := func(name string, vals []float64) ([]float64, error) {
		a, ok := n.Attrs[name]
		if !ok || a.Kind != graph.AttrGraph || a.Graph == nil {
			return vals, nil
		}
		t := tensor.New(cdt, []int{B, H, L, S})
		fromFloat64s(t, vals)
		res, err := xRunGraph(ctx, env, a.Graph, scope, []*tensor.Tensor{t})
		if err != nil {
			return nil, err
		}
		if len(res) != 1 || res[0].Len() != len(vals) {
			return nil, fmt.Errorf("%s must give one tensor of %d elements", name, len(vals))
		}
		return toFloat64s(res[0]), nil
	}
	if cdt == tensor.Float32 {
		for i, s := range scores {
			scores[i] = float64(float32(s))
		}
	}
	scores, err := mod("score_mod", scores)
	if err != nil {
		return xExtraErr(n, "%v", err)
	}
	for r := 0; r < B*H*L; r++ {
		row := scores[r*S : (r+1)*S]
		m := math.Inf(-1)
		for _, s := range row {
			m = math.Max(m, s)
		}
		var sum float64
		for j, s := range row {
			row[j] = math.Exp(s - m)
			sum += row[j]
		}
		for j := range row {
			row[j] /= sum
		}
	}
	probs, err := mod("prob_mod", scores)
	if err != nil {
		return xExtraErr(n, "%v", err)
	}
	y := make([]float64, B*H*L*Ev)
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			kh := h / rep
			for i := 0; i < L; i++ {
				for e := 0; e < Ev; e++ {
					var s float64
					for j := 0; j < S; j++ {
						s += probs[((b*H+h)*L+i)*S+j] * vv[((b*Hkv+kh)*S+j)*Ev+e]
					}
					y[((b*H+h)*L+i)*Ev+e] = s
				}
			}
		}
	}
	fromFloat64s(out[0], y)
	return nil
}
