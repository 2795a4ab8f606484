package ops

import (
	"errors"
	"fmt"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Evaluator computes a node's outputs from constant inputs. Infer uses it, when given,
// to fold the small shape computations exporters leave in graphs (Shape, Gather,
// Concat feeding Reshape), so that later shapes become known.
type Evaluator func(n *graph.Node, inputs []*tensor.Tensor, outTypes []graph.Type) ([]*tensor.Tensor, error)

// InferOptions tunes Infer.
type InferOptions struct {
	// Eval, when set, evaluates nodes whose inputs are all constant and whose outputs
	// are small (at most FoldLimit elements); their outputs become constants.
	Eval Evaluator
	// FoldLimit bounds the size of outputs Infer folds (default 4096 elements).
	FoldLimit int
}

// Infer fills in the type of every node output, in node order (the graph must be
// topologically sorted). It reports every node whose inference failed, each error
// naming the node, and keeps going where it can.
func Infer(g *graph.Graph, opts InferOptions) error {
	if opts.FoldLimit == 0 {
		opts.FoldLimit = 4096
	}
	var errs []error
	for _, n := range g.Nodes {
		if err := InferNode(g, n, opts); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// InferNode infers one node's output types and stores them in its output values.
func InferNode(g *graph.Graph, n *graph.Node, opts InferOptions) error {
	s, ok := LookupNode(n)
	if !ok {
		return fmt.Errorf("node %q: unknown operator %s", n.Name, qualified(n.Domain, n.Op))
	}
	if err := CheckArity(s, n); err != nil {
		return err
	}
	c := &InferContext{Node: n, Opset: g.Opset, In: make([]graph.Type, len(n.Inputs)), Consts: make([]*tensor.Tensor, len(n.Inputs))}
	allConst := true
	for i, v := range n.Inputs {
		if v == nil {
			continue
		}
		if v.DType == tensor.Invalid {
			return fmt.Errorf("node %q (%s): input %d (%q) has no known type", n.Name, n.Op, i, v.Name)
		}
		c.In[i] = v.Type
		c.Consts[i] = v.Const
		if v.Const == nil {
			allConst = false
		}
	}
	types, err := s.Infer(c)
	if err != nil {
		return err
	}
	if len(types) < countOutputs(n) {
		return fmt.Errorf("node %q (%s): inference gave %d outputs, node has %d", n.Name, n.Op, len(types), len(n.Outputs))
	}
	for i, v := range n.Outputs {
		if v != nil {
			v.Type = types[i]
		}
	}
	if opts.Eval != nil && !allConst && n.Domain == "" && (n.Op == "Shape" || n.Op == "Size") {
		foldShapeOf(n)
	}
	if opts.Eval != nil && allConst && foldable(n, opts.FoldLimit) {
		ins := make([]*tensor.Tensor, len(n.Inputs))
		for i, v := range n.Inputs {
			if v != nil {
				ins[i] = v.Const
			}
		}
		outs, err := opts.Eval(n, ins, types)
		if err != nil {
			return fmt.Errorf("node %q (%s): folding constants: %w", n.Name, n.Op, err)
		}
		for i, v := range n.Outputs {
			if v != nil && i < len(outs) && outs[i] != nil {
				v.Const = outs[i]
				v.Type = graph.Type{DType: outs[i].DType(), Shape: graph.ShapeOf(outs[i].Shape()...), HasShape: true}
			}
		}
	}
	return nil
}

// foldShapeOf turns Shape and Size of a value whose shape is fully known into a
// constant: their outputs depend on the shape only, so later shape arithmetic (the
// Gather/Concat/Reshape chains exporters and traces emit) folds too.
func foldShapeOf(n *graph.Node) {
	in := n.Inputs[0]
	out := n.Outputs[0]
	if in == nil || out == nil || !in.HasShape || !in.Shape.Known() {
		return
	}
	dims := in.Shape.Ints()
	if n.Op == "Size" {
		out.Const = tensor.ScalarInt64(int64(tensor.NumElements(dims)))
		out.Type = graph.Type{DType: tensor.Int64, Shape: graph.Shape{}, HasShape: true}
		return
	}
	rank := int64(len(dims))
	clamp := func(v int64) int64 {
		if v < 0 {
			v += rank
		}
		return max(0, min(v, rank))
	}
	start, end := clamp(n.Attrs.GetInt("start", 0)), clamp(n.Attrs.GetInt("end", rank))
	vals := []int64{}
	for i := start; i < end; i++ {
		vals = append(vals, int64(dims[i]))
	}
	t, err := tensor.FromInt64([]int{len(vals)}, vals)
	if err != nil {
		return
	}
	out.Const = t
	out.Type = graph.Type{DType: tensor.Int64, Shape: graph.ShapeOf(len(vals)), HasShape: true}
}

func countOutputs(n *graph.Node) int {
	c := 0
	for i, v := range n.Outputs {
		if v != nil {
			c = i + 1
		}
	}
	return c
}

// foldable reports whether every output of n has a known shape no larger than limit,
// and the node is deterministic.
func foldable(n *graph.Node, limit int) bool {
	if IsCustom(n) {
		return false // custom ops may have effects; they run at run time only
	}
	switch n.Op {
	case "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli", "Custom":
		return false
	}
	for _, v := range n.Outputs {
		if v == nil {
			continue
		}
		if !v.HasShape || !v.Shape.Known() || tensor.NumElements(v.Shape.Ints()) > limit {
			return false
		}
	}
	return true
}

// CheckArity verifies the node's input and output counts against the schema.
func CheckArity(s *Schema, n *graph.Node) error {
	in := len(n.Inputs)
	if in < s.Inputs.Min || (s.Inputs.Max != Variadic && in > s.Inputs.Max) {
		return fmt.Errorf("node %q (%s): has %d inputs, expected %s", n.Name, n.Op, in, arityText(s.Inputs))
	}
	for i := 0; i < s.Inputs.Min && i < in; i++ {
		if n.Inputs[i] == nil {
			return fmt.Errorf("node %q (%s): required input %d is missing", n.Name, n.Op, i)
		}
	}
	out := len(n.Outputs)
	if out < s.Outputs.Min || (s.Outputs.Max != Variadic && out > s.Outputs.Max) {
		return fmt.Errorf("node %q (%s): has %d outputs, expected %s", n.Name, n.Op, out, arityText(s.Outputs))
	}
	return nil
}

func arityText(a Arity) string {
	switch {
	case a.Max == Variadic:
		return fmt.Sprintf("at least %d", a.Min)
	case a.Min == a.Max:
		return fmt.Sprint(a.Min)
	}
	return fmt.Sprintf("%d to %d", a.Min, a.Max)
}

func qualified(domain, op string) string {
	if domain == "" {
		return op
	}
	return domain + "." + op
}
