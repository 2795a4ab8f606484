package ops

import (
	"fmt"
	"math"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	xRegisterExtra(Schema{Name: "Resize", Doc: "N-D nearest, linear or cubic resampling (opset 10-19 attributes: coordinate modes, antialias, axes, keep_aspect_ratio_policy)",
		Inputs: Arity{1, 4}, Outputs: Arity{1, 1}, Infer: xInferResize})
	xRegisterExtra(Schema{Name: "Upsample", Doc: "Resize before opset 10 (asymmetric coordinates)",
		Inputs: Arity{1, 2}, Outputs: Arity{1, 1}, Infer: xInferResize})
}

// ResizeGeometry is what a Resize or Upsample node resolves to for one input shape.
type ResizeGeometry struct {
	Out    []int
	Scales []float64 // per axis: output length over input length as the coordinate transform uses it
	Roi    []float64 // starts then ends per axis (tf_crop_and_resize), nil otherwise
}

// xResizeInputs returns the roi, scales and sizes inputs of a node for its opset.
func xResizeInputs(n *graph.Node, ins []*tensor.Tensor) (roi, scales, sizes *tensor.Tensor) {
	get := func(i int) *tensor.Tensor {
		if i < len(ins) && ins[i] != nil && ins[i].Len() > 0 {
			return ins[i]
		}
		return nil
	}
	if n.Op == "Upsample" || (len(n.Inputs) == 2 && n.Attrs.GetInt("_opset", 11) < 11) {
		return nil, get(1), nil
	}
	return get(1), get(2), get(3)
}

// ResizeGeometryOf computes the output shape, scales and roi of a Resize or Upsample
// node for input shape in, from its (constant or run-time) inputs ins.
func ResizeGeometryOf(n *graph.Node, in []int, ins []*tensor.Tensor) (*ResizeGeometry, error) {
	r := len(in)
	roiT, scalesT, sizesT := xResizeInputs(n, ins)
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if a := n.Attrs.GetInts("axes", nil); a != nil {
		axes = axes[:0]
		for _, v := range a {
			ax, err := NormAxis(v, r)
			if err != nil {
				return nil, err
			}
			axes = append(axes, ax)
		}
	}
	g := &ResizeGeometry{Out: append([]int(nil), in...), Scales: make([]float64, r)}
	for i := range g.Scales {
		g.Scales[i] = 1
	}
	var given []float64
	switch {
	case n.Op == "Upsample" && scalesT == nil:
		for _, f := range n.Attrs.GetFloats("scales", nil) {
			given = append(given, float64(f))
		}
		if len(given) != r {
			return nil, fmt.Errorf("Upsample needs %d scales, has %d", r, len(given))
		}
	case scalesT != nil:
		for i := 0; i < scalesT.Len(); i++ {
			given = append(given, scalesT.Float64At(i))
		}
	}
	switch {
	case given != nil:
		if len(given) != len(axes) {
			return nil, fmt.Errorf("%d scales for %d axes", len(given), len(axes))
		}
		for i, ax := range axes {
			if given[i] <= 0 {
				return nil, fmt.Errorf("scale %g must be positive", given[i])
			}
			g.Scales[ax] = given[i]
			g.Out[ax] = int(math.Floor(float64(in[ax])*given[i] + 1e-9))
		}
	case sizesT != nil:
		if sizesT.Len() != len(axes) {
			return nil, fmt.Errorf("%d sizes for %d axes", sizesT.Len(), len(axes))
		}
		policy := n.Attrs.GetString("keep_aspect_ratio_policy", "stretch")
		if policy == "stretch" {
			for i, ax := range axes {
				g.Out[ax] = int(sizesT.Int64At(i))
				g.Scales[ax] = float64(g.Out[ax]) / float64(in[ax])
			}
			break
		}
		s := math.Inf(1)
		if policy == "not_smaller" {
			s = math.Inf(-1)
		}
		for i, ax := range axes {
			v := float64(sizesT.Int64At(i)) / float64(in[ax])
			if policy == "not_larger" {
				s = math.Min(s, v)
			} else {
				s = math.Max(s, v)
			}
		}
		for _, ax := range axes {
			g.Scales[ax] = s
			g.Out[ax] = int(math.Round(s * float64(in[ax])))
		}
	default:
		return nil, fmt.Errorf("neither scales nor sizes are given")
	}
	if n.Attrs.GetString("coordinate_transformation_mode", "") == "tf_crop_and_resize" {
		if roiT == nil || roiT.Len() != 2*len(axes) {
			return nil, fmt.Errorf("tf_crop_and_resize needs an roi of %d values", 2*len(axes))
		}
		g.Roi = make([]float64, 2*r)
		for i := 0; i < r; i++ {
			g.Roi[r+i] = 1
		}
		for i, ax := range axes {
			g.Roi[ax] = roiT.Float64At(i)
			g.Roi[r+ax] = roiT.Float64At(len(axes) + i)
		}
		if given != nil {
			for _, ax := range axes {
				g.Out[ax] = int(math.Floor(float64(in[ax]) * (g.Roi[r+ax] - g.Roi[ax]) * g.Scales[ax]))
			}
		}
	}
	for i, d := range g.Out {
		if d < 0 {
			return nil, fmt.Errorf("output dimension %d is negative (%d)", i, d)
		}
	}
	return g, nil
}

func xInferResize(c *InferContext) ([]graph.Type, error) {
	x := c.In[0]
	if !x.HasShape || !x.Shape.Known() {
		if x.HasShape {
			return []graph.Type{Typed(x.DType, xResizeUnknown(len(x.Shape)))}, nil
		}
		return []graph.Type{Unranked(x.DType)}, nil
	}
	for i := 1; i < len(c.In); i++ {
		if c.Has(i) && c.Const(i) == nil {
			return []graph.Type{Typed(x.DType, xResizeUnknown(len(x.Shape)))}, nil
		}
	}
	g, err := ResizeGeometryOf(c.Node, x.Shape.Ints(), c.Consts)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return []graph.Type{Typed(x.DType, graph.ShapeOf(g.Out...))}, nil
}

func xResizeUnknown(rank int) graph.Shape {
	s := make(graph.Shape, rank)
	for i := range s {
		s[i] = graph.Dim{Size: -1}
	}
	return s
}
