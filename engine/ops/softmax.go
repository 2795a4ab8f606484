package ops

import (
	"github.com/lightiam/lightos/engine/graph"
)

func init() {
	for _, name := range []string{"Softmax", "LogSoftmax", "Hardmax"} {
		register(Schema{Name: name, Doc: name + " along axis (opset < 13: over the flattened trailing axes from axis)",
			Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferSoftmax})
	}
}

// OpsetAttr is the node attribute through which the ONNX loader records the opset a
// node was exported under, for operators whose meaning changed between opsets (Softmax
// before 13 flattens, GroupNormalization before 21 has per-group scales). Kernels see
// only the node, so they read it from here; Softmax-family inference also sets it from
// the graph's Opset when the loader did not.
const OpsetAttr = "_opset"

// NodeOpset returns the opset node n follows: its OpsetAttr attribute, else
// graphOpset; 0 means the newest opset.
func NodeOpset(n *graph.Node, graphOpset int64) int64 {
	if v := n.Attrs.GetInt(OpsetAttr, 0); v > 0 {
		return v
	}
	return graphOpset
}

// SoftmaxSpan describes how a Softmax-family node splits a tensor: Outer independent
// groups, each of Axis values reduced over, with Inner as the distance between
// consecutive values (Inner is 1 for the last axis, and always under opset < 13, where
// the trailing axes are flattened into one).
type SoftmaxSpan struct{ Outer, Axis, Inner int }

// SoftmaxLayout resolves a Softmax, LogSoftmax or Hardmax node's axis for a concrete
// shape under the given opset (0: newest).
func SoftmaxLayout(a graph.Attrs, shape []int, opset int64) (SoftmaxSpan, error) {
	legacy := opset > 0 && opset < 13
	def := int64(-1)
	if legacy {
		def = 1
	}
	rank := len(shape)
	if rank == 0 {
		return SoftmaxSpan{1, 1, 1}, nil
	}
	ax, err := NormAxis(a.GetInt("axis", def), rank)
	if err != nil {
		return SoftmaxSpan{}, err
	}
	outer, axis, inner := 1, shape[ax], 1
	for _, d := range shape[:ax] {
		outer *= d
	}
	for _, d := range shape[ax+1:] {
		inner *= d
	}
	if legacy {
		return SoftmaxSpan{outer, axis * inner, 1}, nil
	}
	return SoftmaxSpan{outer, axis, inner}, nil
}

func inferSoftmax(c *InferContext) ([]graph.Type, error) {
	if err := RequireFloat(c, 0); err != nil {
		return nil, err
	}
	x := c.In[0]
	o := NodeOpset(c.Node, c.Opset)
	if o > 0 && o < 13 && !c.Node.Attrs.Has(OpsetAttr) {
		// Record the graph's opset on the node: kernels see only the node, and the
		// pre-13 meaning (flatten from axis) differs from the newest.
		if c.Node.Attrs == nil {
			c.Node.Attrs = graph.Attrs{}
		}
		c.Node.Attrs[OpsetAttr] = graph.Int(o)
	}
	if x.HasShape && len(x.Shape) > 0 {
		def := int64(-1)
		if o > 0 && o < 13 {
			def = 1
		}
		if _, err := NormAxis(c.Attrs().GetInt("axis", def), len(x.Shape)); err != nil {
			return nil, c.Errorf("%v", err)
		}
	}
	return []graph.Type{x}, nil
}
