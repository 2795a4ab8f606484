package ops

import (
	"fmt"
	"sort"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// DomainLightOS is the domain of the engine's own operators (fused ops, custom ops).
const DomainLightOS = "lightos"

// Variadic as Max means any number of inputs or outputs.
const Variadic = -1

// Arity bounds a node's input or output count.
type Arity struct{ Min, Max int }

// Schema describes one operator.
type Schema struct {
	Name    string
	Domain  string // "" (ONNX default), "ai.onnx.ml", DomainLightOS, ...
	Doc     string
	Inputs  Arity
	Outputs Arity
	// Infer computes the output types from the input types (and constant inputs).
	Infer func(c *InferContext) ([]graph.Type, error)
}

// InferContext is what a schema's Infer sees of one node.
type InferContext struct {
	Node *graph.Node
	// In holds the types of the node's inputs; the zero Type for an omitted input.
	In []graph.Type
	// Consts holds the data of inputs that are known constants (nil otherwise). At run
	// time, when the executor infers shapes from actual tensors, every entry is set.
	Consts []*tensor.Tensor
	// Opset is the graph's opset version (0 means newest).
	Opset int64
}

// Attrs is the node's attributes.
func (c *InferContext) Attrs() graph.Attrs { return c.Node.Attrs }

// NumInputs is the number of inputs including omitted trailing optionals.
func (c *InferContext) NumInputs() int { return len(c.In) }

// Has reports whether input i is present.
func (c *InferContext) Has(i int) bool {
	return i < len(c.Node.Inputs) && c.Node.Inputs[i] != nil
}

// Const returns the data of input i when it is known, else nil.
func (c *InferContext) Const(i int) *tensor.Tensor {
	if i < len(c.Consts) {
		return c.Consts[i]
	}
	return nil
}

// Errorf makes an error naming the node and its operator.
func (c *InferContext) Errorf(format string, args ...any) error {
	return fmt.Errorf("node %q (%s): %s", c.Node.Name, c.Node.Op, fmt.Sprintf(format, args...))
}

type key struct{ domain, name string }

// registry is filled by init functions and read-only afterwards.
var registry = map[key]*Schema{}

// register adds a schema; it is called only from init functions.
func register(s Schema) {
	k := key{normDomain(s.Domain), s.Name}
	if _, dup := registry[k]; dup {
		panic("ops: duplicate schema " + s.Name)
	}
	registry[k] = &s
}

func normDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// extras holds the schemas of onnx_extra*.go: operators outside the core list. A core
// schema of the same name always wins, whatever the init order of the files.
var extras = map[key]*Schema{}

// Lookup returns the schema of an operator.
func Lookup(domain, name string) (*Schema, bool) {
	k := key{normDomain(domain), name}
	s, ok := registry[k]
	if !ok {
		s, ok = extras[k]
	}
	return s, ok
}

// Names lists every registered operator as "domain.name" (or "name" for ONNX), sorted.
func Names() []string {
	out := make([]string, 0, len(registry)+len(extras))
	all := map[key]bool{}
	for k := range registry {
		all[k] = true
	}
	for k := range extras {
		all[k] = true
	}
	for k := range all {
		if k.domain == "" {
			out = append(out, k.name)
		} else {
			out = append(out, k.domain+"."+k.name)
		}
	}
	sort.Strings(out)
	return out
}
