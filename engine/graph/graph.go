package graph

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/lightiam/lightos/engine/tensor"
)

// Node is one operator application.
type Node struct {
	Name   string
	Op     string // operator name, e.g. "MatMul", "FusedMatMul"
	Domain string // "" for the default (ONNX) domain
	// Inputs lists the values read, in order; nil marks an omitted optional input.
	Inputs []*Value
	// Outputs lists the values written, in order; nil marks an omitted optional output.
	Outputs []*Value
	Attrs   Attrs
}

// Input returns input i, or nil when it is omitted or out of range.
func (n *Node) Input(i int) *Value {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return nil
}

func (n *Node) String() string {
	ins := make([]string, len(n.Inputs))
	for i, v := range n.Inputs {
		if v == nil {
			ins[i] = "_"
		} else {
			ins[i] = "%" + v.Name
		}
	}
	outs := make([]string, len(n.Outputs))
	for i, v := range n.Outputs {
		if v == nil {
			outs[i] = "_"
		} else {
			outs[i] = "%" + v.Name
		}
	}
	op := n.Op
	if n.Domain != "" {
		op = n.Domain + "." + op
	}
	return fmt.Sprintf("%s = %s(%s)%s  # %s", strings.Join(outs, ", "), op, strings.Join(ins, ", "), n.Attrs.text(), n.Name)
}

// Graph is a computation: nodes over SSA values, with inputs, outputs and initializers.
type Graph struct {
	Name    string
	Nodes   []*Node
	Inputs  []*Value
	Outputs []*Value
	// Initializers are the constant values (weights) in a stable order.
	Initializers []*Value
	// Opset is the ONNX opset version the graph's semantics follow (0 means newest).
	Opset int64

	values map[string]*Value
	serial int
}

// New returns an empty graph.
func New(name string) *Graph {
	return &Graph{Name: name, values: map[string]*Value{}}
}

// Value returns the value called name, or nil.
func (g *Graph) Value(name string) *Value {
	g.ensureIndex()
	return g.values[name]
}

func (g *Graph) ensureIndex() {
	if g.values == nil {
		g.Reindex()
	}
}

// Reindex rebuilds the name index from inputs, initializers and node outputs. Passes
// that build graphs by hand call it after editing the slices directly.
func (g *Graph) Reindex() {
	g.values = map[string]*Value{}
	for _, v := range g.Inputs {
		g.values[v.Name] = v
	}
	for _, v := range g.Initializers {
		g.values[v.Name] = v
	}
	for _, n := range g.Nodes {
		for _, v := range n.Outputs {
			if v != nil {
				g.values[v.Name] = v
			}
		}
	}
}

// UniqueName returns a value or node name based on base that no value uses yet.
func (g *Graph) UniqueName(base string) string {
	g.ensureIndex()
	if _, taken := g.values[base]; !taken && base != "" {
		return base
	}
	for {
		g.serial++
		name := fmt.Sprintf("%s_%d", base, g.serial)
		if _, taken := g.values[name]; !taken {
			return name
		}
	}
}

// NewValue makes a value with a unique name based on base and registers it in the index.
// The caller attaches it as an input, initializer or node output.
func (g *Graph) NewValue(base string, t Type) *Value {
	v := &Value{Name: g.UniqueName(base), Type: t}
	g.values[v.Name] = v
	return v
}

// AddInput declares a graph input.
func (g *Graph) AddInput(name string, dt tensor.DType, shape Shape) *Value {
	v := g.NewValue(name, Type{DType: dt, Shape: shape, HasShape: shape != nil})
	g.Inputs = append(g.Inputs, v)
	return v
}

// AddInitializer declares a constant value holding t.
func (g *Graph) AddInitializer(name string, t *tensor.Tensor) *Value {
	v := g.NewValue(name, Type{DType: t.DType(), Shape: ShapeOf(t.Shape()...), HasShape: true})
	v.Const = t
	g.Initializers = append(g.Initializers, v)
	return v
}

// AddNode appends a node reading inputs and writing fresh values named outNames.
// Output types are filled in later by inference (ops.Infer).
func (g *Graph) AddNode(op, name string, inputs []*Value, outNames []string, attrs Attrs) *Node {
	if attrs == nil {
		attrs = Attrs{}
	}
	n := &Node{Name: name, Op: op, Inputs: inputs, Attrs: attrs}
	for _, on := range outNames {
		if on == "" {
			n.Outputs = append(n.Outputs, nil)
			continue
		}
		v := g.NewValue(on, Type{})
		v.Producer = n
		n.Outputs = append(n.Outputs, v)
	}
	g.Nodes = append(g.Nodes, n)
	return n
}

// Consumers maps each value to the nodes that read it, in node order.
func (g *Graph) Consumers() map[*Value][]*Node {
	m := map[*Value][]*Node{}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			if v != nil {
				m[v] = append(m[v], n)
			}
		}
	}
	return m
}

// IsOutput reports whether v is a graph output.
func (g *Graph) IsOutput(v *Value) bool {
	for _, o := range g.Outputs {
		if o == v {
			return true
		}
	}
	return false
}

// ReplaceUses makes every reader of old (and the graph outputs) read repl instead.
func (g *Graph) ReplaceUses(old, repl *Value) {
	for _, n := range g.Nodes {
		for i, v := range n.Inputs {
			if v == old {
				n.Inputs[i] = repl
			}
		}
	}
	for i, v := range g.Outputs {
		if v == old {
			g.Outputs[i] = repl
		}
	}
}

// RemoveNodes deletes the given nodes and reindexes.
func (g *Graph) RemoveNodes(dead map[*Node]bool) {
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		if !dead[n] {
			kept = append(kept, n)
		}
	}
	for i := len(kept); i < len(g.Nodes); i++ {
		g.Nodes[i] = nil
	}
	g.Nodes = kept
	g.Reindex()
}

// TopoSort orders the nodes so that every value is written before it is read. Among
// ready nodes it keeps the existing order, so sorting is stable. It fails on a cycle or
// a read of a value nothing produces.
func (g *Graph) TopoSort() error {
	available := map[*Value]bool{}
	for _, v := range g.Inputs {
		available[v] = true
	}
	for _, v := range g.Initializers {
		available[v] = true
	}
	pending := append([]*Node(nil), g.Nodes...)
	sorted := make([]*Node, 0, len(pending))
	for len(pending) > 0 {
		progress := false
		rest := pending[:0]
		for _, n := range pending {
			ready := true
			for _, v := range n.Inputs {
				if v != nil && !available[v] && v.Const == nil {
					ready = false
					break
				}
			}
			if !ready {
				rest = append(rest, n)
				continue
			}
			sorted = append(sorted, n)
			for _, v := range n.Outputs {
				if v != nil {
					available[v] = true
				}
			}
			progress = true
		}
		pending = rest
		if !progress {
			names := make([]string, 0, len(pending))
			for _, n := range pending {
				names = append(names, n.Name)
			}
			return fmt.Errorf("graph %q: cycle or missing producer among nodes %v", g.Name, names)
		}
	}
	g.Nodes = sorted
	return nil
}

// Validate checks the graph's structure and returns every problem found, joined: each
// names the node and value involved. It does not check operator semantics (ops.Check).
func (g *Graph) Validate() error {
	var errs []error
	written := map[*Value]string{}
	names := map[string]*Value{}
	declare := func(v *Value, by string) {
		if prev, ok := written[v]; ok {
			errs = append(errs, fmt.Errorf("graph %q: value %q written twice (by %s and %s)", g.Name, v.Name, prev, by))
		}
		written[v] = by
		if other, ok := names[v.Name]; ok && other != v {
			errs = append(errs, fmt.Errorf("graph %q: two values are named %q", g.Name, v.Name))
		}
		names[v.Name] = v
	}
	for _, v := range g.Inputs {
		declare(v, "graph input")
	}
	for _, v := range g.Initializers {
		if v.Const == nil {
			errs = append(errs, fmt.Errorf("graph %q: initializer %q has no data", g.Name, v.Name))
		}
		declare(v, "initializer")
	}
	seenNodes := map[string]bool{}
	for _, n := range g.Nodes {
		if n.Name != "" && seenNodes[n.Name] {
			errs = append(errs, fmt.Errorf("graph %q: two nodes are named %q", g.Name, n.Name))
		}
		seenNodes[n.Name] = true
		if n.Op == "" {
			errs = append(errs, fmt.Errorf("graph %q: node %q has no operator", g.Name, n.Name))
		}
		for i, v := range n.Inputs {
			if v == nil {
				continue
			}
			if _, ok := written[v]; !ok && v.Const == nil {
				errs = append(errs, fmt.Errorf("graph %q: node %q (%s) input %d reads %q before anything writes it", g.Name, n.Name, n.Op, i, v.Name))
			}
		}
		for _, v := range n.Outputs {
			if v == nil {
				continue
			}
			if v.Producer != n {
				errs = append(errs, fmt.Errorf("graph %q: node %q output %q names another producer", g.Name, n.Name, v.Name))
			}
			declare(v, fmt.Sprintf("node %q", n.Name))
		}
	}
	for i, v := range g.Outputs {
		if v == nil {
			errs = append(errs, fmt.Errorf("graph %q: output %d is nil", g.Name, i))
			continue
		}
		if _, ok := written[v]; !ok && v.Const == nil {
			errs = append(errs, fmt.Errorf("graph %q: output %q is never written", g.Name, v.Name))
		}
	}
	return errors.Join(errs...)
}

// String is the stable text form: inputs, initializers, nodes in order, outputs.
func (g *Graph) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %s {\n", g.Name)
	for _, v := range g.Inputs {
		fmt.Fprintf(&b, "  input %v\n", v)
	}
	inits := append([]*Value(nil), g.Initializers...)
	sort.SliceStable(inits, func(i, j int) bool { return inits[i].Name < inits[j].Name })
	for _, v := range inits {
		fmt.Fprintf(&b, "  const %v\n", v)
	}
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  %v\n", n)
	}
	for _, v := range g.Outputs {
		fmt.Fprintf(&b, "  output %v\n", v)
	}
	b.WriteString("}\n")
	return b.String()
}

// Clone returns a deep copy of the structure (values and nodes); constant tensor data
// and attribute payloads are shared, since passes replace them rather than mutate them.
func (g *Graph) Clone() *Graph {
	c := &Graph{Name: g.Name, Opset: g.Opset, serial: g.serial}
	vm := map[*Value]*Value{}
	cp := func(v *Value) *Value {
		if v == nil {
			return nil
		}
		if nv, ok := vm[v]; ok {
			return nv
		}
		nv := &Value{Name: v.Name, Type: v.Type, Const: v.Const}
		nv.Shape = append(Shape(nil), v.Shape...)
		vm[v] = nv
		return nv
	}
	for _, v := range g.Inputs {
		c.Inputs = append(c.Inputs, cp(v))
	}
	for _, v := range g.Initializers {
		c.Initializers = append(c.Initializers, cp(v))
	}
	for _, n := range g.Nodes {
		nn := &Node{Name: n.Name, Op: n.Op, Domain: n.Domain, Attrs: n.Attrs.Clone()}
		for _, v := range n.Inputs {
			nn.Inputs = append(nn.Inputs, cp(v))
		}
		for _, v := range n.Outputs {
			nv := cp(v)
			if nv != nil {
				nv.Producer = nn
			}
			nn.Outputs = append(nn.Outputs, nv)
		}
		c.Nodes = append(c.Nodes, nn)
	}
	for _, v := range g.Outputs {
		c.Outputs = append(c.Outputs, cp(v))
	}
	c.Reindex()
	return c
}
