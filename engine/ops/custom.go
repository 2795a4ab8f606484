package ops

import (
	"strconv"
	"strings"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Custom operators are nodes a caller implements (engine/custom): any op name, in any
// domain, marked with the attribute CustomAttr = 1 (the ONNX loader marks unknown
// operators the user registered this way, keeping their op name). Their output types
// come from two optional attributes:
//
//   - CustomOutDTypes (ints): the dtype of each output; default: input 0's dtype.
//   - CustomOutShapes (strings): one shape spec per output; default: input 0's shape.
//     A spec is "@k" (the shape of input k), "" (a scalar), or comma-separated
//     dimensions, each an integer or "i.d" (dimension d of input i).
const (
	CustomAttr      = "_custom"
	CustomOutDTypes = "_out_dtypes"
	CustomOutShapes = "_out_shapes"
)

// IsCustom reports whether n is a custom-operator node.
func IsCustom(n *graph.Node) bool { return n.Attrs.GetInt(CustomAttr, 0) == 1 }

var customSchema = &Schema{Name: "Custom", Domain: DomainLightOS,
	Doc:    "a caller-implemented operator; output types from its _out_dtypes/_out_shapes attributes",
	Inputs: Arity{0, Variadic}, Outputs: Arity{1, Variadic}, Infer: inferCustom}

// LookupNode returns the schema for node n: the custom schema for custom nodes, else
// the registered schema of its operator.
func LookupNode(n *graph.Node) (*Schema, bool) {
	if IsCustom(n) {
		return customSchema, true
	}
	return Lookup(n.Domain, n.Op)
}

func inferCustom(c *InferContext) ([]graph.Type, error) {
	n := len(c.Node.Outputs)
	dts := c.Attrs().GetInts(CustomOutDTypes, nil)
	var specs []string
	if a, ok := c.Attrs()[CustomOutShapes]; ok {
		specs = a.Strings
	}
	if dts != nil && len(dts) != n {
		return nil, c.Errorf("%s lists %d dtypes for %d outputs", CustomOutDTypes, len(dts), n)
	}
	if specs != nil && len(specs) != n {
		return nil, c.Errorf("%s lists %d shapes for %d outputs", CustomOutShapes, len(specs), n)
	}
	out := make([]graph.Type, n)
	for i := range out {
		var dt tensor.DType
		switch {
		case dts != nil:
			dt = tensor.DType(dts[i])
			if !dt.Valid() {
				return nil, c.Errorf("output %d: invalid dtype code %d", i, dts[i])
			}
		case len(c.In) > 0:
			dt = c.In[0].DType
		default:
			return nil, c.Errorf("output %d: no dtype declared and no input to copy it from", i)
		}
		spec := "@0"
		if specs != nil {
			spec = specs[i]
		}
		t, err := customShape(c, spec)
		if err != nil {
			return nil, c.Errorf("output %d: shape %q: %v", i, spec, err)
		}
		t.DType = dt
		out[i] = t
	}
	return out, nil
}

func customShape(c *InferContext, spec string) (graph.Type, error) {
	input := func(s string) (graph.Type, error) {
		k, err := strconv.Atoi(s)
		if err != nil || k < 0 || k >= len(c.In) || !c.Has(k) {
			return graph.Type{}, errorf("no input %q", s)
		}
		return c.In[k], nil
	}
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "@") {
		t, err := input(spec[1:])
		if err != nil {
			return graph.Type{}, err
		}
		return graph.Type{Shape: t.Shape, HasShape: t.HasShape}, nil
	}
	shape := graph.Shape{}
	if spec == "" {
		return graph.Type{Shape: shape, HasShape: true}, nil
	}
	for _, tok := range strings.Split(spec, ",") {
		tok = strings.TrimSpace(tok)
		if in, d, ok := strings.Cut(tok, "."); ok {
			t, err := input(in)
			if err != nil {
				return graph.Type{}, err
			}
			j, err := strconv.Atoi(d)
			if err != nil || !t.HasShape || j < 0 || j >= len(t.Shape) {
				return graph.Type{}, errorf("input %s has no dimension %s", in, d)
			}
			shape = append(shape, t.Shape[j])
			continue
		}
		v, err := strconv.ParseInt(tok, 10, 64)
		if err != nil || v < 0 {
			return graph.Type{}, errorf("bad dimension %q", tok)
		}
		shape = append(shape, graph.Dim{Size: v})
	}
	return graph.Type{Shape: shape, HasShape: true}, nil
}
