package ops

import (
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Integer, quantized and deformable convolutions (computed by a direct loop in the
// CPU backend; the geometry is the core Conv's).
func init() {
	xRegisterExtra(Schema{Name: "ConvInteger", Doc: "int32 convolution of (x - x_zero_point) and (w - w_zero_point)",
		Inputs: Arity{2, 4}, Outputs: Arity{1, 1}, Infer: xInferConvLike(1, tensor.Int32)})
	xRegisterExtra(Schema{Name: "QLinearConv", Doc: "quantized convolution requantized to y_scale, y_zero_point",
		Inputs: Arity{8, 9}, Outputs: Arity{1, 1}, Infer: xInferConvLike(3, tensor.Invalid)})
	xRegisterExtra(Schema{Name: "DeformConv", Doc: "2-D deformable convolution with per-position offsets and optional mask",
		Inputs: Arity{3, 5}, Outputs: Arity{1, 1}, Infer: xInferConvLike(1, tensor.Invalid)})
}

// xInferConvLike infers [N, M, out...] for a convolution whose weights are input w;
// dt Invalid keeps the input dtype (or y_zero_point's for QLinearConv).
func xInferConvLike(w int, dt tensor.DType) func(c *InferContext) ([]graph.Type, error) {
	return func(c *InferContext) ([]graph.Type, error) {
		x, wt := c.In[0], c.In[w]
		if dt == tensor.Invalid {
			dt = x.DType
			if c.Node.Op == "QLinearConv" {
				dt = c.In[7].DType
			}
		}
		if !x.HasShape || !wt.HasShape || !x.Shape.Known() || !wt.Shape.Known() || len(x.Shape) < 3 {
			return []graph.Type{Unranked(dt)}, nil
		}
		xs, ws := x.Shape.Ints(), wt.Shape.Ints()
		g, err := ConvGeometry(c.Attrs(), xs[2:], ws[2:])
		if err != nil {
			return nil, c.Errorf("%v", err)
		}
		out := []int{xs[0], ws[0]}
		return []graph.Type{Typed(dt, graph.ShapeOf(append(out, g.Out...)...))}, nil
	}
}
