package graph

import (
	"fmt"

	"github.com/lightiam/lightos/engine/tensor"
)

// Builder builds a graph from tensor names the way the product description's Python
// API does, where an op may read and write the same name (relu in place). Each write to
// a name makes a new SSA value; later reads of the name see the newest value.
type Builder struct {
	g       *Graph
	current map[string]*Value // user-visible name -> newest SSA value
	marked  []string          // names marked as outputs, resolved at Finish
	nodes   map[string]bool   // node names in use
}

// NewBuilder starts an empty graph.
func NewBuilder(name string) *Builder {
	return &Builder{g: New(name), current: map[string]*Value{}, nodes: map[string]bool{}}
}

// Input declares a graph input called name.
func (b *Builder) Input(name string, dt tensor.DType, shape Shape) (*Value, error) {
	if _, ok := b.current[name]; ok {
		return nil, fmt.Errorf("graph builder: tensor %q already exists", name)
	}
	v := b.g.AddInput(name, dt, shape)
	b.current[name] = v
	return v, nil
}

// Const declares a constant (a weight) called name.
func (b *Builder) Const(name string, t *tensor.Tensor) (*Value, error) {
	if _, ok := b.current[name]; ok {
		return nil, fmt.Errorf("graph builder: tensor %q already exists", name)
	}
	v := b.g.AddInitializer(name, t)
	b.current[name] = v
	return v, nil
}

// Declare records that name will be written by a later op, with an expected type used
// only for checking (a declared-but-never-written name is reported by Finish).
func (b *Builder) Declare(name string) {
	if _, ok := b.current[name]; !ok {
		b.current[name] = nil
	}
}

// Lookup returns the newest value for name, or nil.
func (b *Builder) Lookup(name string) *Value { return b.current[name] }

// Op appends an operator reading the newest values of inputs and writing outputs. An
// empty input name is an omitted optional input. Writing a name that already has a
// value creates a fresh SSA value for it.
func (b *Builder) Op(op, nodeName string, inputs, outputs []string, attrs Attrs) (*Node, error) {
	ins := make([]*Value, len(inputs))
	for i, name := range inputs {
		if name == "" {
			continue
		}
		v := b.current[name]
		if v == nil {
			return nil, fmt.Errorf("graph builder: node %q (%s) input %d: tensor %q has no value yet", nodeName, op, i, name)
		}
		ins[i] = v
	}
	if nodeName == "" {
		nodeName = op
		for i := 1; b.nodes[nodeName]; i++ {
			nodeName = fmt.Sprintf("%s_%d", op, i)
		}
	}
	if b.nodes[nodeName] {
		return nil, fmt.Errorf("graph builder: node name %q is already used", nodeName)
	}
	b.nodes[nodeName] = true
	// The newest value of a name carries the name itself, so that outputs keep the
	// names the user gave. An older value written by a node is renamed name_N; graph
	// inputs and constants keep their names (the new value gets name_N instead).
	outNames := make([]string, len(outputs))
	renamed := false
	for i, name := range outputs {
		if name == "" {
			continue
		}
		old := b.current[name]
		switch {
		case old == nil:
			outNames[i] = name
		case old.Producer != nil:
			old.Name = b.g.UniqueName(name)
			renamed = true
			outNames[i] = name
		default:
			outNames[i] = b.g.UniqueName(name)
		}
	}
	if renamed {
		b.g.Reindex()
	}
	n := b.g.AddNode(op, nodeName, ins, outNames, attrs)
	for i, name := range outputs {
		if name != "" {
			b.current[name] = n.Outputs[i]
		}
	}
	return n, nil
}

// Output marks name as a graph output; its newest value at Finish is used.
func (b *Builder) Output(name string) { b.marked = append(b.marked, name) }

// Finish returns the graph. With no names marked as outputs, every value that no node
// reads becomes an output, in creation order.
func (b *Builder) Finish() (*Graph, error) {
	g := b.g
	g.Outputs = nil
	if len(b.marked) > 0 {
		for _, name := range b.marked {
			v := b.current[name]
			if v == nil {
				return nil, fmt.Errorf("graph builder: output %q is never written", name)
			}
			g.Outputs = append(g.Outputs, v)
		}
	} else {
		read := g.Consumers()
		for _, n := range g.Nodes {
			for _, v := range n.Outputs {
				if v != nil && len(read[v]) == 0 {
					g.Outputs = append(g.Outputs, v)
				}
			}
		}
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}

// Graph returns the graph being built (outputs are set by Finish).
func (b *Builder) Graph() *Graph { return b.g }
