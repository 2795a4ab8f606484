package ops

import "github.com/lightiam/lightos/engine/graph"

// GridSample samples X at the normalized coordinates of grid (nearest, linear or
// cubic; zeros, border or reflection padding), in any number of spatial dimensions.
func init() {
	xRegisterExtra(Schema{Name: "GridSample", Doc: "samples X [N, C, D...] at grid [N, O..., r] (opset 16-22 modes and padding)",
		Inputs: Arity{2, 2}, Outputs: Arity{1, 1}, Infer: xInferGridSample})
}

func xInferGridSample(c *InferContext) ([]graph.Type, error) {
	x, g := c.In[0], c.In[1]
	if !x.HasShape || !g.HasShape {
		return []graph.Type{Unranked(x.DType)}, nil
	}
	if len(g.Shape) != len(x.Shape) || len(x.Shape) < 3 {
		return nil, c.Errorf("X %v and grid %v: expected [N, C, D...] and [N, D_out..., %d]", x.Shape, g.Shape, len(x.Shape)-2)
	}
	out := graph.Shape{x.Shape[0], x.Shape[1]}
	out = append(out, g.Shape[1:len(g.Shape)-1]...)
	return []graph.Type{Typed(x.DType, out)}, nil
}
