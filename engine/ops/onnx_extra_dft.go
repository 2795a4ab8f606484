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

func init() {
	xRegisterExtra(Schema{Name: "STFT", Doc: "short-time Fourier transform of [batch, length, 1 or 2] signals: [batch, frames, bins, 2]",
		Inputs: Arity{2, 4}, Outputs: Arity{1, 1}, Infer: xInferSTFT})
	xRegisterExtra(Schema{Name: "Col2Im", Doc: "sums sliding-window columns [N, C*prod(block), L] back into an image [N, C, image_shape...]",
		Inputs: Arity{3, 3}, Outputs: Arity{1, 1}, Infer: xInferCol2Im})
}

// STFTParams returns the frame length, step, frame count and bin count of an STFT node.
func STFTParams(n *graph.Node, shape []int, ins []*tensor.Tensor) (frameLen, step, frames, bins int, err error) {
	if len(shape) != 3 {
		return 0, 0, 0, 0, fmt.Errorf("signal has shape %v; expected [batch, length, 1 or 2]", shape)
	}
	step = int(ins[1].Int64At(0))
	frameLen = shape[1]
	if len(ins) > 2 && ins[2] != nil {
		frameLen = ins[2].Len()
	}
	if len(ins) > 3 && ins[3] != nil {
		frameLen = int(ins[3].Int64At(0))
	}
	if step <= 0 || frameLen <= 0 || frameLen > shape[1] {
		return 0, 0, 0, 0, fmt.Errorf("frame_step %d and frame_length %d do not fit a signal of %d", step, frameLen, shape[1])
	}
	frames = 1 + (shape[1]-frameLen)/step
	bins = frameLen
	if n.Attrs.GetInt("onesided", 1) != 0 {
		bins = frameLen/2 + 1
	}
	return frameLen, step, frames, bins, nil
}

func xInferSTFT(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	for i := 0; i < len(c.In); i++ {
		if i > 0 && c.Has(i) && c.Const(i) == nil {
			return []graph.Type{Typed(x.DType, xResizeUnknown(4))}, nil
		}
	}
	if !x.HasShape || !x.Shape.Known() {
		return []graph.Type{Typed(x.DType, xResizeUnknown(4))}, nil
	}
	_, _, frames, bins, err := STFTParams(c.Node, x.Shape.Ints(), c.Consts)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(x.DType, graph.Shape{x.Shape[0], {Size: int64(frames)}, {Size: int64(bins)}, {Size: 2}})}, nil
}

func xInferCol2Im(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	img, blk := c.Const(1), c.Const(2)
	if !x.HasShape || img == nil || blk == nil || len(x.Shape) != 3 || !x.Shape[1].Known() {
		return []graph.Type{Unranked(x.DType)}, nil
	}
	k := int64(1)
	for _, v := range blk.AsInt64s() {
		k *= v
	}
	if k <= 0 || x.Shape[1].Size%k != 0 {
		return nil, c.Errorf("input channels %d are not a multiple of the block size %d", x.Shape[1].Size, k)
	}
	out := graph.Shape{x.Shape[0], {Size: x.Shape[1].Size / k}}
	for _, v := range img.AsInt64s() {
		out = append(out, graph.Dim{Size: v})
	}
	return []graph.Type{Typed(x.DType, out)}, nil
}

func init() {
	xRegisterExtra(Schema{Name: "MelWeightMatrix", Doc: "the [dft_length/2+1, num_mel_bins] matrix of triangular mel filters, in output_datatype",
		Inputs: Arity{5, 5}, Outputs: Arity{1, 1}, Infer: xInferMelWeightMatrix})
}

func xInferMelWeightMatrix(c *InferContext) ([]graph.Type, error) {
	dt := tensor.DType(c.Attrs().GetInt("output_datatype", int64(tensor.Float32)))
	if !dt.Valid() {
		return nil, c.Errorf("output_datatype %d is not supported", c.Attrs().GetInt("output_datatype", 1))
	}
	shape := graph.Shape{{Size: -1}, {Size: -1}}
	if d := c.Const(1); d != nil && d.Len() == 1 {
		if d.Int64At(0) < 1 {
			return nil, c.Errorf("dft_length %d must be positive", d.Int64At(0))
		}
		shape[0] = graph.Dim{Size: d.Int64At(0)/2 + 1}
	}
	if m := c.Const(0); m != nil && m.Len() == 1 {
		if m.Int64At(0) < 1 {
			return nil, c.Errorf("num_mel_bins %d must be positive", m.Int64At(0))
		}
		shape[1] = graph.Dim{Size: m.Int64At(0)}
	}
	return []graph.Type{Typed(dt, shape)}, nil
}
