package ops

import (
	"fmt"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register(Schema{Name: "MaxPool", Doc: "N-D max pooling with optional flat argmax Indices (int64)",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 2}, Infer: inferPool})
	register(Schema{Name: "AveragePool", Doc: "N-D average pooling (count_include_pad, ceil_mode)",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferPool})
	register(Schema{Name: "LpPool", Doc: "N-D Lp-norm pooling (p, default 2)",
		Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferPool})
	for _, name := range []string{"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"} {
		register(Schema{Name: name, Doc: name + " over every spatial axis (kept as size 1)",
			Inputs: Arity{1, 1}, Outputs: Arity{1, 1}, Infer: inferGlobalPool})
	}
}

// PoolGeometry resolves a pooling node's attributes (kernel_shape required) for spatial
// input sizes in (-1 for unknown), honouring auto_pad and ceil_mode.
func PoolGeometry(a graph.Attrs, in []int) (*Geometry, error) {
	g, err := commonGeometry(a, in, nil)
	if err != nil {
		return nil, err
	}
	same, err := g.autoPad(a.GetString("auto_pad", "NOTSET"))
	if err != nil {
		return nil, err
	}
	if err := g.windowOut(a.GetInt("ceil_mode", 0) != 0); err != nil {
		return nil, err
	}
	if same {
		for i, in := range g.In {
			if in >= 0 {
				g.Out[i] = (in + g.Strides[i] - 1) / g.Strides[i]
			}
		}
	}
	for i := range g.In {
		ek := (g.Kernel[i]-1)*g.Dilations[i] + 1
		if g.PadsBegin[i] >= ek || g.PadsEnd[i] >= ek {
			return nil, fmt.Errorf("pads %d,%d on axis %d must be smaller than the window %d", g.PadsBegin[i], g.PadsEnd[i], i, ek)
		}
	}
	return g, nil
}

func inferPool(c *InferContext) ([]graph.Type, error) {
	if c.Node.Op == "MaxPool" && (c.In[0].DType == tensor.Int8 || c.In[0].DType == tensor.Uint8) {
		// MaxPool also takes 8-bit integers (opset 12).
	} else if err := RequireFloat(c, 0); err != nil {
		return nil, err
	}
	x := c.In[0]
	if !x.HasShape {
		return []graph.Type{Unranked(x.DType), Unranked(tensor.Int64)}, nil
	}
	if len(x.Shape) < 3 {
		return nil, c.Errorf("input X has shape %v; expected [N, C, spatial...]", x.Shape)
	}
	if c.Node.Op == "MaxPool" && c.Attrs().GetInt("storage_order", 0) != 0 && len(x.Shape) != 4 {
		return nil, c.Errorf("storage_order 1 is only defined for 2-D pooling")
	}
	g, err := PoolGeometry(c.Attrs(), dims(x.Shape)[2:])
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	out := graph.Shape{x.Shape[0], x.Shape[1]}
	for _, o := range g.Out {
		out = append(out, graph.Dim{Size: int64(o)})
	}
	return []graph.Type{Typed(x.DType, out), Typed(tensor.Int64, out)}, nil
}

func inferGlobalPool(c *InferContext) ([]graph.Type, error) {
	if err := RequireFloat(c, 0); err != nil {
		return nil, err
	}
	x := c.In[0]
	if !x.HasShape {
		return []graph.Type{Unranked(x.DType)}, nil
	}
	if len(x.Shape) < 2 {
		return nil, c.Errorf("input X has shape %v; expected [N, C, spatial...]", x.Shape)
	}
	out := graph.Shape{x.Shape[0], x.Shape[1]}
	for range x.Shape[2:] {
		out = append(out, graph.Dim{Size: 1})
	}
	return []graph.Type{Typed(x.DType, out)}, nil
}
