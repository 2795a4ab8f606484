package ops

import (
	"fmt"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	xRegisterExtra(Schema{Name: "DFT", Doc: "discrete Fourier transform along one axis of a real [..., 1] or complex [..., 2] signal (opset 17 and 20 forms)",
		Inputs: Arity{1, 3}, Outputs: Arity{1, 1}, Infer: xInferDFT})
}

// DFTParams resolves a DFT node's axis (non-negative, over the input including its
// trailing complex axis), transform length and flags for an input of the given shape.
func DFTParams(n *graph.Node, shape []int, ins []*tensor.Tensor) (axis, length int, inverse, onesided bool, err error) {
	r := len(shape)
	opset := n.Attrs.GetInt("_opset", 20)
	get := func(i int) *tensor.Tensor {
		if i < len(ins) && ins[i] != nil && ins[i].Len() > 0 {
			return ins[i]
		}
		return nil
	}
	a := int64(-2)
	if opset < 20 {
		a = n.Attrs.GetInt("axis", 1)
	} else if t := get(2); t != nil {
		a = t.Int64At(0)
	}
	if a < 0 {
		a += int64(r)
	}
	if a < 0 || int(a) >= r-1 {
		return 0, 0, false, false, fmt.Errorf("axis %d is out of range for a signal of shape %v", a, shape)
	}
	axis = int(a)
	inverse = n.Attrs.GetInt("inverse", 0) != 0
	onesided = n.Attrs.GetInt("onesided", 0) != 0
	length = shape[axis]
	if inverse && onesided {
		length = 2 * (shape[axis] - 1)
	}
	if t := get(1); t != nil {
		length = int(t.Int64At(0))
	}
	if length <= 0 {
		return 0, 0, false, false, fmt.Errorf("dft_length %d must be positive", length)
	}
	return axis, length, inverse, onesided, nil
}

func xInferDFT(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	if !x.HasShape || !x.Shape.Known() {
		return []graph.Type{Unranked(x.DType)}, nil
	}
	for i := 1; i < len(c.In); i++ {
		if c.Has(i) && c.Const(i) == nil {
			return []graph.Type{Typed(x.DType, xResizeUnknown(len(x.Shape)))}, nil
		}
	}
	shape := x.Shape.Ints()
	axis, length, inverse, onesided, err := DFTParams(c.Node, shape, c.Consts)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	out := append([]int(nil), shape...)
	out[axis] = length
	out[len(out)-1] = 2
	switch {
	case inverse && onesided:
		out[len(out)-1] = 1
	case onesided:
		out[axis] = length/2 + 1
	}
	return []graph.Type{Typed(x.DType, graph.ShapeOf(out...))}, nil
}
