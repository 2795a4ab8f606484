package ops

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Control flow: If and Scan (opset 9+). Their subgraphs are graph attributes whose
// nodes read enclosing values directly; the ONNX loader lists those values as extra
// inputs after the declared ones (attribute _explicit_inputs). Output types come from
// the subgraphs' declared output types (ONNX files carry them); Loop, whose outputs
// grow with a data-dependent trip count, is not supported.
func init() {
	xRegisterExtra(Schema{Name: "If", Doc: "runs then_branch or else_branch by a boolean condition",
		Inputs: Arity{1, Variadic}, Outputs: Arity{1, Variadic}, Infer: xInferIf})
	xRegisterExtra(Schema{Name: "Scan", Doc: "runs body over slices of the scan inputs, carrying state (opset 8 batched form too)",
		Inputs: Arity{0, Variadic}, Outputs: Arity{1, Variadic}, Infer: xInferScan})
}

func xSubgraph(c *InferContext, name string) (*graph.Graph, error) {
	a, ok := c.Attrs()[name]
	if !ok || a.Kind != graph.AttrGraph || a.Graph == nil {
		return nil, c.Errorf("missing graph attribute %q", name)
	}
	return a.Graph, nil
}

func xInferIf(c *InferContext) ([]graph.Type, error) {
	then, err := xSubgraph(c, "then_branch")
	if err != nil {
		return nil, err
	}
	els, err := xSubgraph(c, "else_branch")
	if err != nil {
		return nil, err
	}
	branch := then
	if cond := c.Const(0); cond != nil && cond.Len() == 1 && cond.Float64At(0) == 0 {
		branch = els
	}
	if len(then.Outputs) != len(els.Outputs) || len(branch.Outputs) < len(c.Node.Outputs) {
		return nil, c.Errorf("branches have %d and %d outputs for %d node outputs", len(then.Outputs), len(els.Outputs), len(c.Node.Outputs))
	}
	declared := make([]graph.Type, len(branch.Outputs))
	complete := true
	for i, v := range branch.Outputs {
		declared[i] = v.Type
		complete = complete && v.DType != tensor.Invalid && v.HasShape && v.Shape.Known()
	}
	if !complete {
		if inferred, err := InferSubgraph(branch, nil, outerTypes(c)); err == nil {
			declared = inferred
		}
	}
	out := make([]graph.Type, len(c.Node.Outputs))
	for i := range out {
		out[i] = declared[i]
		if c.Const(0) == nil && !then.Outputs[i].Type.Shape.Equal(els.Outputs[i].Type.Shape) {
			out[i].Shape = xResizeUnknown(len(out[i].Shape)) // differs by branch: known at run time
		}
	}
	return out, nil
}

// ScanAttrs is a Scan node's layout: states, scan inputs and their axes and directions.
type ScanAttrs struct {
	Body                *graph.Graph
	States, ScanIn      int
	InAxes, InReverse   []int
	OutAxes, OutReverse []int
	ScanOut             int
}

// ScanLayout reads the attributes of a Scan node whose explicit states and scan inputs
// (after opset 8's sequence_lens, and without its batch axis) number explicit and have
// the given ranks.
func ScanLayout(n *graph.Node, ranks []int, explicit int) (*ScanAttrs, error) {
	a := n.Attrs["body"]
	if a.Kind != graph.AttrGraph || a.Graph == nil {
		return nil, errorf("Scan has no body graph")
	}
	m := int(n.Attrs.GetInt("num_scan_inputs", 0))
	s := &ScanAttrs{Body: a.Graph, ScanIn: m, States: explicit - m}
	if m <= 0 || s.States < 0 || len(a.Graph.Inputs) != explicit || len(a.Graph.Outputs) < s.States {
		return nil, errorf("Scan with %d inputs, %d scan inputs and a body of %d inputs", explicit, m, len(a.Graph.Inputs))
	}
	s.ScanOut = len(a.Graph.Outputs) - s.States
	list := func(name string, k int, def int64, rank func(i int) int) []int {
		v := n.Attrs.GetInts(name, nil)
		out := make([]int, k)
		for i := range out {
			x := def
			if i < len(v) {
				x = v[i]
			}
			if x < 0 && rank != nil {
				x += int64(rank(i))
			}
			out[i] = int(x)
		}
		return out
	}
	s.InAxes = list("scan_input_axes", m, 0, func(i int) int { return ranks[s.States+i] })
	s.InReverse = list("scan_input_directions", m, 0, nil)
	s.OutAxes = list("scan_output_axes", s.ScanOut, 0, func(i int) int { return len(a.Graph.Outputs[s.States+i].Shape) + 1 })
	s.OutReverse = list("scan_output_directions", s.ScanOut, 0, nil)
	return s, nil
}

func xInferScan(c *InferContext) ([]graph.Type, error) {
	explicit := int(c.Attrs().GetInt("_explicit_inputs", int64(len(c.In))))
	in := c.In
	batched := c.Attrs().GetInt("_opset", 9) < 9 // opset 8: sequence_lens first, batch axis 0
	var batch graph.Dim
	if batched {
		if len(in) < 2 {
			return nil, c.Errorf("opset 8 Scan needs states or scan inputs after sequence_lens")
		}
		explicit--
		in = make([]graph.Type, len(c.In)-1)
		batch = graph.Dim{Size: -1}
		for i, t := range c.In[1:] {
			in[i] = t
			if i >= explicit || !t.HasShape {
				continue
			}
			if len(t.Shape) == 0 {
				return nil, c.Errorf("opset 8 Scan input %d is a scalar; expected a batch axis 0", i+1)
			}
			if t.Shape[0].Known() {
				batch = t.Shape[0]
			}
			in[i] = Typed(t.DType, t.Shape[1:])
		}
	} else if len(in) == 0 || in[0].DType == tensor.Invalid {
		return nil, c.Errorf("missing input 0")
	}
	if explicit < 0 || explicit > len(in) {
		return nil, c.Errorf("_explicit_inputs %d for %d inputs", explicit, len(in))
	}
	ranks := make([]int, len(in))
	for i, t := range in {
		ranks[i] = len(t.Shape)
	}
	s, err := ScanLayout(c.Node, ranks, explicit)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	if batched {
		outer := outerTypes(c)
		c = &InferContext{Node: c.Node, Opset: c.Opset, In: in, Consts: c.Consts[1:]}
		types, err := xInferScanTypes(c, s, outer)
		if err != nil {
			return nil, err
		}
		for i, t := range types {
			if t.HasShape {
				types[i] = Typed(t.DType, append(graph.Shape{batch}, t.Shape...))
			}
		}
		return types, nil
	}
	return xInferScanTypes(c, s, outerTypes(c))
}

// xInferScanTypes infers the output types of an opset 9 Scan of layout s.
// outer gives the types of enclosing values the body reads, by name.
func xInferScanTypes(c *InferContext, s *ScanAttrs, outer map[string]graph.Type) ([]graph.Type, error) {
	out := make([]graph.Type, 0, s.States+s.ScanOut)
	for i := 0; i < s.States; i++ {
		out = append(out, c.In[i])
	}
	seq := graph.Dim{Size: -1}
	if t := c.In[s.States]; t.HasShape && s.InAxes[0] < len(t.Shape) {
		seq = t.Shape[s.InAxes[0]]
	}
	args := make([]graph.Type, 0, len(s.Body.Inputs))
	args = append(args, c.In[:s.States]...)
	for j := 0; j < s.ScanIn; j++ {
		t := c.In[s.States+j]
		if t.HasShape && s.InAxes[j] < len(t.Shape) {
			sh := append(append(graph.Shape(nil), t.Shape[:s.InAxes[j]]...), t.Shape[s.InAxes[j]+1:]...)
			t = Typed(t.DType, sh)
		}
		args = append(args, t)
	}
	bodyTypes := make([]graph.Type, len(s.Body.Outputs))
	inferred, ierr := InferSubgraph(s.Body, args, outer)
	for i, v := range s.Body.Outputs {
		bodyTypes[i] = v.Type // declared types win when they are complete
		if ierr == nil && !(v.DType != tensor.Invalid && v.HasShape && v.Shape.Known()) {
			bodyTypes[i] = inferred[i]
		}
	}
	for k := 0; k < s.ScanOut; k++ {
		bt := bodyTypes[s.States+k]
		if !bt.HasShape {
			out = append(out, Unranked(bt.DType))
			continue
		}
		ax := s.OutAxes[k]
		if ax < 0 || ax > len(bt.Shape) {
			return nil, c.Errorf("scan output axis %d is out of range", ax)
		}
		sh := append(graph.Shape(nil), bt.Shape[:ax]...)
		sh = append(sh, seq)
		sh = append(sh, bt.Shape[ax:]...)
		out = append(out, Typed(bt.DType, sh))
	}
	return out, nil
}

// InferSubgraph infers the output types of subgraph g whose inputs have the given
// types, without writing to g (it may be shared by concurrent plans). outer gives the
// types of enclosing values g reads, by name.
func InferSubgraph(g *graph.Graph, inputs []graph.Type, outer map[string]graph.Type) ([]graph.Type, error) {
	types := map[*graph.Value]graph.Type{}
	for i, v := range g.Inputs {
		if i < len(inputs) {
			types[v] = inputs[i]
		}
	}
	typeOf := func(v *graph.Value) (graph.Type, bool) {
		if t, ok := types[v]; ok {
			return t, true
		}
		if v.Const != nil {
			return Typed(v.Const.DType(), graph.ShapeOf(v.Const.Shape()...)), true
		}
		if t, ok := outer[v.Name]; ok {
			return t, true
		}
		return graph.Type{}, false
	}
	for _, n := range g.Nodes {
		s, ok := LookupNode(n)
		if !ok {
			return nil, errorf("subgraph %q: node %q: unknown operator %s", g.Name, n.Name, n.Op)
		}
		c := &InferContext{Node: n, Opset: g.Opset, In: make([]graph.Type, len(n.Inputs)), Consts: make([]*tensor.Tensor, len(n.Inputs))}
		for i, v := range n.Inputs {
			if v == nil {
				continue
			}
			t, ok := typeOf(v)
			if !ok || t.DType == tensor.Invalid {
				return nil, errorf("subgraph %q: node %q: input %q has no known type", g.Name, n.Name, v.Name)
			}
			c.In[i], c.Consts[i] = t, v.Const
		}
		out, err := s.Infer(c)
		if err != nil {
			return nil, err
		}
		for i, v := range n.Outputs {
			if v != nil && i < len(out) {
				types[v] = out[i]
			}
		}
	}
	res := make([]graph.Type, len(g.Outputs))
	for i, v := range g.Outputs {
		t, ok := typeOf(v)
		if !ok {
			return nil, errorf("subgraph %q: output %q has no known type", g.Name, v.Name)
		}
		res[i] = t
	}
	return res, nil
}

// outerTypes maps the names of a control-flow node's inputs to their types.
func outerTypes(c *InferContext) map[string]graph.Type {
	m := map[string]graph.Type{}
	for i, v := range c.Node.Inputs {
		if v != nil && i < len(c.In) {
			m[v.Name] = c.In[i]
		}
	}
	return m
}

func init() {
	xRegisterExtra(Schema{Name: "Loop", Doc: "runs body up to M times while cond holds, carrying state and stacking scan outputs; output shapes need a trip count known when the node runs (the body's condition passing its input through)",
		Inputs: Arity{2, Variadic}, Outputs: Arity{1, Variadic}, Infer: xInferLoop})
}

// LoopTripCount returns how many times a Loop runs when that is known without running
// it: M is known and the body's condition output is its condition input (directly or
// through Identity) or the condition is false. ok is false otherwise.
func LoopTripCount(n *graph.Node, m, cond *tensor.Tensor) (trips int64, ok bool) {
	if cond != nil && cond.Len() == 1 && cond.Float64At(0) == 0 {
		return 0, true
	}
	body := n.Attrs["body"].Graph
	if m == nil || m.Len() != 1 || body == nil || len(body.Inputs) < 2 || len(body.Outputs) < 1 {
		return 0, false
	}
	v := body.Outputs[0]
	for v.Producer != nil && v.Producer.Op == "Identity" && len(v.Producer.Inputs) == 1 {
		v = v.Producer.Inputs[0]
	}
	if v != body.Inputs[1] {
		return 0, false
	}
	return max(m.Int64At(0), 0), true
}

func xInferLoop(c *InferContext) ([]graph.Type, error) {
	a := c.Attrs()["body"]
	if a.Kind != graph.AttrGraph || a.Graph == nil {
		return nil, c.Errorf("Loop has no body graph")
	}
	body := a.Graph
	explicit := int(c.Attrs().GetInt("_explicit_inputs", int64(len(c.In))))
	states := explicit - 2
	if states < 0 || len(body.Inputs) != states+2 || len(body.Outputs) < states+1 {
		return nil, c.Errorf("Loop with %d states and a body of %d inputs, %d outputs", states, len(body.Inputs), len(body.Outputs))
	}
	args := []graph.Type{Typed(tensor.Int64, graph.Shape{}), Typed(tensor.Bool, graph.Shape{})}
	args = append(args, c.In[2:explicit]...)
	bodyTypes := make([]graph.Type, len(body.Outputs))
	inferred, err := InferSubgraph(body, args, outerTypes(c))
	for i, v := range body.Outputs {
		bodyTypes[i] = v.Type // declared types win when they are complete
		if err == nil && !(v.DType != tensor.Invalid && v.HasShape && v.Shape.Known()) {
			bodyTypes[i] = inferred[i]
		}
	}
	var m, cond *tensor.Tensor
	if c.Has(0) {
		m = c.Const(0)
	}
	if c.Has(1) {
		cond = c.Const(1)
	}
	trips := graph.Dim{Size: -1}
	if (!c.Has(0) || m != nil) && (!c.Has(1) || cond != nil) {
		if n, ok := LoopTripCount(c.Node, m, cond); ok {
			trips = graph.Dim{Size: n}
		}
	}
	out := make([]graph.Type, 0, len(body.Outputs)-1)
	out = append(out, c.In[2:explicit]...)
	for _, t := range bodyTypes[states+1:] {
		if !t.HasShape {
			out = append(out, Unranked(t.DType))
			continue
		}
		out = append(out, Typed(t.DType, append(graph.Shape{trips}, t.Shape...)))
	}
	return out, nil
}
