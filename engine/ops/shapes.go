package ops

import (
	"fmt"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// BroadcastShapes applies NumPy broadcasting to shapes; symbolic dims broadcast with 1
// or an equal symbol.
func BroadcastShapes(shapes ...graph.Shape) (graph.Shape, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make(graph.Shape, rank)
	for i := range out {
		out[i] = graph.Dim{Size: 1}
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := &out[off+i]
			switch {
			case d.Known() && d.Size == 1:
			case o.Known() && o.Size == 1:
				*o = d
			case d == *o:
			case !d.Known() || !o.Known():
				// An unknown against a known size > 1: the known size wins (the unknown
				// must be 1 or equal); two different symbols stay unknown.
				if d.Known() {
					*o = d
				} else if !o.Known() {
					*o = graph.Dim{Size: -1}
				}
			default:
				return nil, fmt.Errorf("shapes %v do not broadcast (dimension %d: %d vs %d)", shapes, off+i, o.Size, d.Size)
			}
		}
	}
	return out, nil
}

// BroadcastInts applies NumPy broadcasting to concrete shapes.
func BroadcastInts(shapes ...[]int) ([]int, error) {
	gs := make([]graph.Shape, len(shapes))
	for i, s := range shapes {
		gs[i] = graph.ShapeOf(s...)
	}
	out, err := BroadcastShapes(gs...)
	if err != nil {
		return nil, err
	}
	return out.Ints(), nil
}

// NormAxis turns a possibly negative axis into [0, rank) or fails.
func NormAxis(axis int64, rank int) (int, error) {
	a := int(axis)
	if a < 0 {
		a += rank
	}
	if a < 0 || a >= rank {
		return 0, fmt.Errorf("axis %d is out of range for rank %d", axis, rank)
	}
	return a, nil
}

// Same returns the type of input i, as the output type of shape-preserving operators.
func Same(i int) func(c *InferContext) ([]graph.Type, error) {
	return func(c *InferContext) ([]graph.Type, error) {
		return []graph.Type{c.In[i]}, nil
	}
}

// Typed returns t with shape s.
func Typed(dt tensor.DType, s graph.Shape) graph.Type {
	return graph.Type{DType: dt, Shape: s, HasShape: true}
}

// Unranked is a type whose shape is unknown.
func Unranked(dt tensor.DType) graph.Type { return graph.Type{DType: dt} }

// RequireFloat fails unless input i is a floating-point tensor.
func RequireFloat(c *InferContext, i int) error {
	if !c.In[i].DType.IsFloat() {
		return c.Errorf("input %d must be a floating-point tensor, got %v", i, c.In[i].DType)
	}
	return nil
}

// SameDTypes fails unless inputs idx all share one dtype.
func SameDTypes(c *InferContext, idx ...int) error {
	for _, i := range idx[1:] {
		if c.Has(i) && c.In[i].DType != c.In[idx[0]].DType {
			return c.Errorf("input %d is %v but input %d is %v; they must match", i, c.In[i].DType, idx[0], c.In[idx[0]].DType)
		}
	}
	return nil
}
